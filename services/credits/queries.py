"""Reads shared by the routes and the projections: the way up the org tree, the policy versions
that apply along it, a teacher's school and ledger entries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from services.credits.domain.ledger import Entry
from services.credits.domain.orgs import chain
from services.credits.domain.policies import PolicyBook, policy_from_data
from services.credits.domain.policy import from_tenths

_UP = """
WITH RECURSIVE up(code, parent_code, depth) AS (
    SELECT code, parent_code, 0 FROM org_tree WHERE code = ANY($1::text[])
    UNION ALL SELECT o.code, o.parent_code, up.depth + 1 FROM org_tree o JOIN up ON o.code = up.parent_code
    WHERE up.depth < 8)
SELECT DISTINCT code, parent_code FROM up
"""


def gbt_chain(code: str) -> list[str]:
    return chain(code, {})


async def org_parents(conn: asyncpg.Connection, codes: Sequence[str]) -> dict[str, str | None]:
    """Recorded parents of `codes`, of their GB/T 2260 ancestors, and upward from there."""
    seeds = sorted({c for code in codes for c in gbt_chain(code)})
    return {r["code"]: r["parent_code"] for r in await conn.fetch(_UP, seeds)}


_UP_WITH_POLICIES = """
WITH RECURSIVE up(code, parent_code, depth) AS (
    SELECT code, parent_code, 0 FROM org_tree WHERE code = ANY($1::text[])
    UNION ALL SELECT o.code, o.parent_code, up.depth + 1 FROM org_tree o JOIN up ON o.code = up.parent_code
    WHERE up.depth < 8)
SELECT DISTINCT code, parent_code, NULL::int AS version, NULL::jsonb AS body FROM up
UNION ALL
SELECT jurisdiction_code, NULL, version, body FROM policies
WHERE jurisdiction_code IN (SELECT code FROM up UNION SELECT unnest($1::text[]))
"""


async def chain_and_book(conn: asyncpg.Connection, code: str) -> tuple[list[str], PolicyBook]:
    """The way up from `code` and the policy versions along it, in one round trip (the award path)."""
    rows = await conn.fetch(_UP_WITH_POLICIES, gbt_chain(code))
    found = chain(code, {r["code"]: r["parent_code"] for r in rows if r["version"] is None})
    versions = sorted((r for r in rows if r["version"] is not None and r["code"] in found),
                      key=lambda r: (r["code"], r["version"]))
    return found, PolicyBook(policy_from_data(r["body"]) for r in versions)


async def policy_book(conn: asyncpg.Connection, codes: Sequence[str] | None = None) -> PolicyBook:
    if codes is None:
        rows = await conn.fetch("SELECT body FROM policies ORDER BY jurisdiction_code, version")
    else:
        rows = await conn.fetch("SELECT body FROM policies WHERE jurisdiction_code = ANY($1::text[])"
                                " ORDER BY jurisdiction_code, version", list(codes))
    return PolicyBook(policy_from_data(r["body"]) for r in rows)


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


async def teacher_entries(conn: asyncpg.Connection, teacher_id: uuid.UUID) -> list[Entry]:
    rows = await conn.fetch(
        """SELECT entry_id, teacher_id, kind, hours_tenths, category, earned_on, school_year, recorded_on,
                  revoked_on, revoke_reason, source FROM entries WHERE teacher_id = $1""", teacher_id)
    return [_entry(r) for r in rows]


async def entry_org(conn: asyncpg.Connection, teacher_id: uuid.UUID) -> str | None:
    """The org a teacher belongs to: their school if known, else where their latest entry was recorded."""
    row = await teacher(conn, teacher_id)
    if row is not None:
        return row["school_code"]
    return await conn.fetchval("SELECT org_code FROM entries WHERE teacher_id = $1 AND org_code IS NOT NULL"
                               " ORDER BY recorded_on DESC LIMIT 1", teacher_id)

