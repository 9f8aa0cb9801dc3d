"""Projection of the credits stream (services/credits/events.py): policy versions and each
teacher's active hours per school year — HoursAwarded and ClaimApproved add, EntryRevoked (which
repeats the entry's hours, category and school year) subtracts. Running sums: the kernel's
Applier applies each event exactly once, with its checkpoint, in one transaction.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.reporting.domain.credits import tenths
from shared.envelope import Envelope
from shared.projection import Projection

_ADD = """
INSERT INTO credit_years (teacher_id, school_year, hours_tenths, by_category)
VALUES ($1, $2, $3::bigint, jsonb_build_object($4::text, $3::bigint))
ON CONFLICT (teacher_id, school_year) DO UPDATE SET
    hours_tenths = credit_years.hours_tenths + EXCLUDED.hours_tenths,
    by_category = credit_years.by_category || jsonb_build_object(
        $4::text, coalesce((credit_years.by_category ->> $4::text)::bigint, 0) + $3::bigint)
"""


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


async def _policy(conn: asyncpg.Connection, d: dict[str, Any]) -> None:
    minimums = {c["code"]: tenths(c["min_hours"]) for c in d.get("categories") or () if c.get("min_hours")}
    await conn.execute(
        """INSERT INTO credit_policies (jurisdiction_code, effective_from, annual_hours, cycle_hours, cycle_years,
                                        school_year_start, category_minimums)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (jurisdiction_code, effective_from) DO UPDATE SET annual_hours = EXCLUDED.annual_hours,
               cycle_hours = EXCLUDED.cycle_hours, cycle_years = EXCLUDED.cycle_years,
               school_year_start = EXCLUDED.school_year_start, category_minimums = EXCLUDED.category_minimums""",
        d["jurisdiction_code"], date.fromisoformat(d["effective_from"]), _dec(d.get("annual_hours")),
        _dec(d.get("cycle_hours")), int(d["cycle_years"]), d.get("school_year_start") or "09-01", minimums)


class CreditsProjection(Projection):
    name = "reporting_credits"
    sources = ("credits",)
    handles = frozenset({"PolicyPublished", "HoursAwarded", "ClaimApproved", "EntryRevoked"})
    tables = ("credit_policies", "credit_years")

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        d = event.data
        if event.type == "PolicyPublished":
            await _policy(conn, d)
            return
        delta = tenths(d["hours"]) * (-1 if event.type == "EntryRevoked" else 1)
        await conn.execute(_ADD, uuid.UUID(str(d["teacher_id"])), int(d["school_year"]), delta, d["category"])

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE credit_policies, credit_years")
