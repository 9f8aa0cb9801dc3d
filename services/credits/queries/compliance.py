"""The per-school counts behind compliance (services/credits/domain/compliance.py): which schools
have registered teachers in a region, and — set-based, in one statement — how many counted
teachers of each meet the standard the domain decided for that school."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from services.credits.domain.compliance import Counts, Standard
from shared.orgs import subtree_prefix
from shared.orgtree import subtree_sql

_SCHOOLS = f"""
SELECT DISTINCT school_code FROM teacher_schools
WHERE ($1::text IS NULL OR {subtree_sql("school_code", "$1", "$2")}) AND school_code > $3
ORDER BY school_code LIMIT $4
"""
# The domain's thresholds per school, applied as its docstring states: counted when hired by the
# year's last day; meeting when a target exists, the year's hours reach it and every category
# minimum is reached; without_policy when there is no target at all.
_COUNTS = """
WITH tg AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::jsonb[], $4::date[])
            AS tg(school_code, target, cat_min, last_day))
SELECT t.school_code, count(*) AS teachers,
       count(*) FILTER (WHERE tg.target IS NOT NULL AND coalesce(y.hours_tenths, 0) >= tg.target
           AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(tg.cat_min) AS m(k, v)
                           WHERE coalesce((y.by_category ->> m.k)::bigint, 0) < m.v::bigint)) AS meeting,
       count(*) FILTER (WHERE tg.target IS NULL) AS without_policy,
       count(*) FILTER (WHERE coalesce(y.hours_tenths, 0) > 0) AS with_hours,
       coalesce(sum(y.hours_tenths), 0)::bigint AS hours_tenths
FROM teacher_schools t JOIN tg ON tg.school_code = t.school_code
LEFT JOIN teacher_years y ON y.teacher_id = t.teacher_id AND y.school_year = $5
WHERE t.hired_on IS NULL OR t.hired_on <= tg.last_day
GROUP BY t.school_code
"""


async def schools(conn: asyncpg.Connection, region: str | None, after: str = "", limit: int | None = None,
                  ) -> list[str]:
    """Schools with at least one registered teacher in `region`'s subtree (anywhere if None),
    in code order, after `after`."""
    rows = await conn.fetch(_SCHOOLS, region, subtree_prefix(region) if region else None, after, limit)
    return [r["school_code"] for r in rows]


async def counts(conn: asyncpg.Connection, standards: Mapping[str, Standard], year: int) -> dict[str, Counts]:
    """Each school's counted teachers in school year `year` against its standard; a school whose
    registered teachers were all hired later is absent."""
    codes, judged = list(standards), list(standards.values())
    rows = await conn.fetch(_COUNTS, codes, [s.target_tenths for s in judged],
                            [dict(s.minimums_tenths) for s in judged], [s.last_day for s in judged], year)
    return {r["school_code"]: Counts(r["teachers"], r["meeting"], r["without_policy"], r["with_hours"],
                                     r["hours_tenths"]) for r in rows}
