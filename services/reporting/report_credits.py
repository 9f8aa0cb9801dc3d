"""Credit compliance per region and school year (domain/credits.py): teachers, those meeting the
annual target, those under no policy, hours, rolled up the org tree like the rates."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from services.reporting.domain.credits import (
    DEFAULT_SCHOOL_YEAR_START,
    CreditPolicy,
    hours,
    last_day,
    parse_start,
    share,
)
from services.reporting.domain.policy import nearest_in_force
from services.reporting.queries import Params, chain, children, parents, within
from shared.auth import org_within

# Same judgement as the credits service's compliance route, in one statement per request.
_COUNTS = """
WITH tg AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::jsonb[], $4::date[])
            AS tg(school_code, target, cat_min, last_day))
SELECT t.school_code, count(*) AS teachers,
       count(*) FILTER (WHERE tg.target IS NOT NULL AND coalesce(y.hours_tenths, 0) >= tg.target
           AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(tg.cat_min) AS m(k, v)
                           WHERE coalesce((y.by_category ->> m.k)::bigint, 0) < m.v::bigint)) AS meeting,
       count(*) FILTER (WHERE tg.target IS NULL) AS without_policy,
       count(*) FILTER (WHERE coalesce(y.hours_tenths, 0) > 0) AS with_hours,
       coalesce(sum(y.hours_tenths), 0) AS hours_tenths
FROM teachers t JOIN tg ON tg.school_code = t.school_code
LEFT JOIN credit_years y ON y.teacher_id = t.teacher_id AND y.school_year = $5
WHERE t.hired_on IS NULL OR t.hired_on <= tg.last_day
GROUP BY t.school_code
"""
FIELDS = ("teachers", "meeting", "without_policy", "with_hours", "hours_tenths")


async def _versions(conn: asyncpg.Connection) -> dict[str, list[CreditPolicy]]:
    out: dict[str, list[CreditPolicy]] = {}
    for r in await conn.fetch("SELECT * FROM credit_policies"):  # a handful: one per version
        out.setdefault(r["jurisdiction_code"], []).append(CreditPolicy(
            r["jurisdiction_code"], r["effective_from"], r["cycle_years"], r["annual_hours"], r["cycle_hours"],
            parse_start(r["school_year_start"]), dict(r["category_minimums"])))
    return out


async def per_school(conn: asyncpg.Connection, year: int, region: str | None, as_of: date) -> list[dict[str, Any]]:
    p = Params()
    where = within("school_code", region, p) if region else "true"
    schools = [r["school_code"] for r in await conn.fetch(
        f"SELECT DISTINCT school_code FROM teachers WHERE {where} ORDER BY school_code", *p.values)]
    tree, versions = await parents(conn, schools), await _versions(conn)
    targets, minimums, last_days = [], [], []
    for school in schools:
        up = chain(school, tree)
        current = nearest_in_force(up, versions, as_of)
        last = last_day(year, current.school_year_start if current else DEFAULT_SCHOOL_YEAR_START)
        policy = nearest_in_force(up, versions, min(as_of, last))
        targets.append(policy.annual_target() if policy else None)
        minimums.append(policy.category_minimums if policy else {})
        last_days.append(last)
    return [dict(r) for r in await conn.fetch(_COUNTS, schools, targets, minimums, last_days, year)]


def figures(rows: list[dict[str, Any]], code: str | None = None) -> dict[str, Any]:
    total = {f: sum(r[f] for r in rows if code is None or org_within(r["school_code"], code)) for f in FIELDS}
    return {"teachers": total["teachers"], "meeting": total["meeting"], "without_policy": total["without_policy"],
            "with_hours": total["with_hours"], "hours": hours(total["hours_tenths"]),
            "share": share(total["meeting"], total["teachers"])}


async def credits(conn: asyncpg.Connection, year: int, region: str | None, as_of: date) -> dict[str, Any]:
    rows = await per_school(conn, year, region, as_of)
    kids = await children(conn, region)
    return {"year": year, "region_code": region, "as_of": as_of, "total": figures(rows),
            "items": [{"region_code": c["code"], "name": c["name"], "kind": c["kind"], **figures(rows, c["code"])}
                      for c in kids], "next_cursor": None}
