"""Certificates as issued (the `certificates` table), in the shape of their CertificateIssued
facts, with their validity now: a certificate is invalid once an entry it rests on is revoked."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.credits.domain.policy import from_tenths, num

_COLUMNS = """certificate_no, teacher_id, kind, start_year, end_year, label, hours_tenths, credits, target_tenths,
              jurisdiction_code, issued_on, credential,
              NOT EXISTS (SELECT 1 FROM entries e WHERE e.entry_id = ANY(c.entry_ids)
                          AND e.revoked_on IS NOT NULL) AS valid"""


def _facts(r: asyncpg.Record) -> tuple[dict[str, Any], bool]:
    return {
        "certificate_no": r["certificate_no"], "teacher_id": str(r["teacher_id"]), "kind": r["kind"],
        "label": r["label"], "start_year": r["start_year"], "end_year": r["end_year"],
        "hours": num(from_tenths(r["hours_tenths"])), "credits": num(r["credits"]),
        "target": num(from_tenths(r["target_tenths"])), "jurisdiction_code": r["jurisdiction_code"],
        "issued_on": r["issued_on"].isoformat(), "credential": r["credential"],
    }, r["valid"]


async def certificate(conn: asyncpg.Connection, number: str) -> tuple[dict[str, Any], bool] | None:
    r = await conn.fetchrow(f"SELECT {_COLUMNS} FROM certificates c WHERE certificate_no = $1", number)
    return None if r is None else _facts(r)


async def latest_for(conn: asyncpg.Connection, teacher_id: uuid.UUID, kind: str, start_year: int,
                     hours_tenths: int) -> tuple[dict[str, Any], bool] | None:
    """The latest certificate of the teacher for that period and those hours, if any."""
    r = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM certificates c WHERE teacher_id = $1 AND kind = $2 AND start_year = $3
            AND hours_tenths = $4 ORDER BY issued_on DESC LIMIT 1""", teacher_id, kind, start_year, hours_tenths)
    return None if r is None else _facts(r)


_OF_TEACHER = f"""SELECT {_COLUMNS} FROM certificates c
WHERE teacher_id = $1 AND ($2::date IS NULL OR (issued_on, certificate_no) < ($2, $3::text))
ORDER BY issued_on DESC, certificate_no DESC LIMIT $4"""


async def of_teacher(conn: asyncpg.Connection, teacher_id: uuid.UUID, after: tuple[Any, str] | None,
                     limit: int) -> list[tuple[dict[str, Any], bool]]:
    """A teacher's certificates, newest first, a keyset page after (issued_on, certificate_no)."""
    rows = await conn.fetch(_OF_TEACHER, teacher_id, after[0] if after else None, after[1] if after else None, limit)
    return [_facts(r) for r in rows]
