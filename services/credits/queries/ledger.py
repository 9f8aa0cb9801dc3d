"""A teacher's ledger as the routes and the certificate handler read it: their school, their
entries, and the policies of the org they belong to."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from services.credits.access import may_read_teacher
from services.credits.domain.ledger import Entry, Ledger
from services.credits.domain.policies import PolicyBook
from services.credits.domain.policy import from_tenths
from services.credits.queries.policies import chain_and_book
from services.credits.titles import problem
from shared.auth import Principal
from shared.problems import Problem

_ENTRIES = """SELECT entry_id, teacher_id, kind, hours_tenths, category, earned_on, school_year, recorded_on,
                     revoked_on, revoke_reason, source FROM entries WHERE teacher_id = $1"""
# Where a teacher whose registration has not reached us yet was last recorded.
_LAST_ORG = """SELECT org_code FROM entries WHERE teacher_id = $1 AND org_code IS NOT NULL
               ORDER BY recorded_on DESC LIMIT 1"""


async def teacher(conn: asyncpg.Connection, teacher_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT teacher_id, school_code, hired_on FROM teacher_schools WHERE teacher_id = $1",
                               teacher_id)


def _entry(r: asyncpg.Record) -> Entry:
    return Entry(
        entry_id=str(r["entry_id"]), teacher_id=str(r["teacher_id"]), kind=r["kind"],
        hours=from_tenths(r["hours_tenths"]), category=r["category"], earned_on=r["earned_on"],
        school_year=r["school_year"], recorded_on=r["recorded_on"], revoked_on=r["revoked_on"],
        revoke_reason=r["revoke_reason"], source=r["source"],
    )


def teacher_not_found(teacher_id: uuid.UUID) -> Problem:
    return problem("teacher_not_found", f"no teacher {teacher_id} is known to the credits service", 404)


async def load_ledger(conn: asyncpg.Connection, principal: Principal, teacher_id: uuid.UUID, as_of: date,
                      ) -> tuple[Ledger, asyncpg.Record | None]:
    """The teacher's ledger as of a date, after the read check (404 before 403 only for readers
    who could see the teacher at all, so ids cannot be probed by outsiders)."""
    row = await teacher(conn, teacher_id)
    org = row["school_code"] if row is not None else await conn.fetchval(_LAST_ORG, teacher_id)
    if not may_read_teacher(principal, str(teacher_id), org):
        if org is None and principal.role != "teacher":
            raise teacher_not_found(teacher_id)
        raise problem("out_of_scope", "this teacher is outside your jurisdiction", 403)
    entries = [_entry(r) for r in await conn.fetch(_ENTRIES, teacher_id)]
    if row is None and not entries:
        raise teacher_not_found(teacher_id)
    chain, book = await chain_and_book(conn, org) if org else ([], PolicyBook(()))
    return Ledger(entries, book, chain, row["hired_on"] if row else None, as_of), row


_ENTRY = """SELECT entry_id, teacher_id, kind, stream_id, org_code, hours_tenths, category, earned_on, school_year,
                   recorded_on, revoked_on, revoke_reason FROM entries WHERE entry_id = $1"""


async def entry(conn: asyncpg.Connection, entry_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(_ENTRY, entry_id)
    if row is None:
        raise problem("entry_not_found", f"no ledger entry {entry_id}", 404)
    return row
