"""The facts behind the short-of-hours list (domain/shortfall.py): each school's targets, and each
counted teacher's active hours — the year's, the year's per category, and the cycle's so far —
from `teacher_years` (ComplianceProjection), the same hours compliance counts. Which teacher is
short, and by how much, is the domain's: this module only reads."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date

import asyncpg

from services.credits.domain.shortfall import ShortTeacher, Targets, school_targets, shortfalls
from services.credits.queries import compliance as counted
from services.credits.queries.policies import chains_and_book

# Counted teachers of the schools given (hired by the year's last day or with no hiring date),
# in (school, teacher) order after a cursor, with their hours of year $4 and of the cycle's
# years from each school's cycle start up to $4.
_TEACHERS = """
WITH tg AS (SELECT * FROM unnest($1::text[], $2::int[], $3::date[]) AS tg(school_code, cycle_first, last_day))
SELECT t.teacher_id, t.school_code,
       coalesce(y.hours_tenths, 0)::bigint AS year_tenths,
       coalesce(y.by_category, '{}'::jsonb) AS by_category,
       coalesce((SELECT sum(c.hours_tenths) FROM teacher_years c
                 WHERE c.teacher_id = t.teacher_id AND c.school_year BETWEEN tg.cycle_first AND $4), 0)::bigint
           AS cycle_tenths
FROM teacher_schools t JOIN tg ON tg.school_code = t.school_code
LEFT JOIN teacher_years y ON y.teacher_id = t.teacher_id AND y.school_year = $4
WHERE (t.hired_on IS NULL OR t.hired_on <= tg.last_day) AND (t.school_code, t.teacher_id) > ($5::text, $6::uuid)
ORDER BY t.school_code, t.teacher_id
LIMIT $7
"""
CHUNK = 2000  # teachers read per round trip while a page fills up
START = ("", uuid.UUID(int=0))


async def targets(conn: asyncpg.Connection, region: str, year: int, as_of: date) -> dict[str, Targets]:
    """The targets of every school with a registered teacher in `region`'s subtree that is under a
    policy (a school under none holds no one to a target)."""
    schools = await counted.schools(conn, region)
    chains, book = await chains_and_book(conn, schools)
    judged = {s: school_targets(chains[s], book, year, as_of) for s in schools}
    return {s: t for s, t in judged.items() if t.policy is not None}


async def short_teachers(conn: asyncpg.Connection, by_school: Mapping[str, Targets], year: int,
                         after: tuple[str, uuid.UUID] = START, limit: int | None = None) -> list[ShortTeacher]:
    """The short teachers after `after`, in (school, teacher) order: up to `limit` (all if None)."""
    schools = sorted(by_school)
    if not schools:
        return []
    args = (schools, [by_school[s].cycle_first for s in schools], [by_school[s].standard.last_day for s in schools],
            year)
    out: list[ShortTeacher] = []
    cursor = after
    while limit is None or len(out) < limit:
        rows = await conn.fetch(_TEACHERS, *args, cursor[0], cursor[1], CHUNK)
        for r in rows:
            t = by_school[r["school_code"]]
            found = shortfalls(t, r["year_tenths"], {k: int(v) for k, v in r["by_category"].items()},
                               r["cycle_tenths"])
            if found:
                out.append(ShortTeacher(str(r["teacher_id"]), r["school_code"], t, found))
                if limit is not None and len(out) == limit:
                    return out
        if len(rows) < CHUNK:
            break
        cursor = (rows[-1]["school_code"], rows[-1]["teacher_id"])
    return out
