"""SQL over the read models: figures per group, under a filter and a reader's scope.

The building block is a *cell*: one project × one nominating region, with that region's quota
(a city that split places to its counties, 004 §2.2: the places it kept; each county's cell has
its own) and the counts of its enrollments (domain/rates.py says what each count means). Cancelled
projects are left out of every figure: their places were never on offer. Groups add cells up;
roll-ups to a parent region add up the cells whose region lies in its GB/T 2260 subtree (the
same prefix rule as shared.orgs.org_within), so they never depend on the order org events came in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from shared.orgs import subtree_prefix
from shared.orgtree import subtree_sql

LEVELS = ("national", "provincial", "municipal", "county", "school")
LEVEL_LABELS = {"national": "国培", "provincial": "省培", "municipal": "市培", "county": "县培", "school": "校本研修"}
COUNTS = """
    count(*) FILTER (WHERE status <> 'withdrawn') AS nominated,
    count(*) FILTER (WHERE status IN ('checked_in', 'completed', 'failed')) AS checked_in,
    count(*) FILTER (WHERE status = 'completed') AS completed,
    count(*) FILTER (WHERE status = 'failed') AS failed,
    count(*) FILTER (WHERE status = 'no_show') AS no_show,
    count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn,
    coalesce(sum(replaced), 0) AS replaced,
    count(satisfied) AS evaluations,
    count(*) FILTER (WHERE satisfied) AS satisfied"""
_FIELDS = ("nominated", "checked_in", "completed", "failed", "no_show", "withdrawn", "replaced", "evaluations",
           "satisfied")
# group → (key, label, sort): `sort` is unique per group and orders the pages.
GROUPS = {
    "project": ("c.project_id::text", "min(p.code || ' ' || p.name)", "min(p.code) || ' ' || c.project_id::text"),
    "region": ("c.region_code", "min(o.name)", "c.region_code"),
    "host": ("coalesce(p.host_id::text, '')", "min(h.name)", "coalesce(p.host_id::text, '')"),
    "level": ("p.level", "NULL::text", "lpad(coalesce(array_position($LEVELS::text[], p.level), 9)::text, 2, '0')"),
    "year": ("p.year::text", "NULL::text", "p.year::text"),
    "total": ("''", "NULL::text", "''"),
    # The dashboard's trends (not API groups): the month a project starts in, and its school year
    # (学年, from 1 September: a project starting 2024-03-04 belongs to 2023学年).
    "month": ("to_char(p.starts_on, 'YYYY-MM')", "NULL::text", "to_char(p.starts_on, 'YYYY-MM')"),
    "school_year": ("extract(year FROM p.starts_on - interval '8 months')::int::text", "NULL::text",
                    "extract(year FROM p.starts_on - interval '8 months')::int::text"),
}


@dataclass(frozen=True)
class Filter:
    year: int | None = None
    level: str | None = None
    project_id: uuid.UUID | None = None
    region: str | None = None  # only cells whose region is in this org's subtree
    host_id: str | None = None  # only this host's projects
    organizer: str | None = None  # only projects organised within this org's subtree
    starts_from: date | None = None  # only projects starting on or after this day
    starts_to: date | None = None  # only projects starting on or before this day


class Params:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def within(column: str, code: str, p: Params) -> str:
    """SQL: `column` is the org `code` or lies in its subtree (shared/orgtree.py)."""
    return subtree_sql(column, p(code), p(subtree_prefix(code)))


def project_where(f: Filter, p: Params) -> str:
    where = ["status <> 'cancelled'"]
    if f.year is not None:
        where.append(f"year = {p(f.year)}")
    if f.level is not None:
        where.append(f"level = {p(f.level)}")
    if f.project_id is not None:
        where.append(f"project_id = {p(f.project_id)}")
    if f.host_id is not None:
        where.append(f"host_id::text = {p(f.host_id)}")
    if f.organizer is not None:
        where.append(within("organizer_code", f.organizer, p))
    if f.starts_from is not None:
        where.append(f"starts_on >= {p(f.starts_from)}")
    if f.starts_to is not None:
        where.append(f"starts_on <= {p(f.starts_to)}")
    return " AND ".join(where)


async def figures(conn: asyncpg.Connection, f: Filter, group: str = "total", after: str | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of {key, label, sort, quota, nominated, ...} per group, ordered by `sort`, after a cursor."""
    p = Params()

    def region(col: str) -> str:
        return f" AND {within(col, f.region, p)}" if f.region else ""

    key, label, sort = GROUPS[group]
    sort = sort.replace("$LEVELS", p(list(LEVELS))) if "$LEVELS" in sort else sort
    sql = f"""
        WITH ps AS (SELECT project_id FROM projects WHERE {project_where(f, p)}),
        e AS (SELECT e.project_id, e.region_code, {COUNTS}
              FROM enrollments e JOIN ps USING (project_id) WHERE true{region('e.region_code')}
              GROUP BY e.project_id, e.region_code),
        q AS (SELECT q.project_id, q.region_code, q.places - coalesce(
                  (SELECT sum(k.places) FROM quotas k WHERE k.project_id = q.project_id
                   AND k.split_from = q.region_code), 0) AS places  -- a city's cell: the places it kept
              FROM quotas q JOIN ps USING (project_id) WHERE true{region('q.region_code')}),
        c AS (SELECT coalesce(q.project_id, e.project_id) AS project_id,
                     coalesce(q.region_code, e.region_code) AS region_code, coalesce(q.places, 0) AS quota,
                     {", ".join(f"coalesce(e.{n}, 0) AS {n}" for n in _FIELDS)}
              FROM q FULL JOIN e ON e.project_id = q.project_id AND e.region_code = q.region_code)
        SELECT * FROM (
            SELECT {key} AS key, {label} AS label, {sort} AS sort, sum(c.quota) AS quota,
                   {", ".join(f"sum(c.{n}) AS {n}" for n in _FIELDS)}
            FROM c JOIN projects p ON p.project_id = c.project_id
            LEFT JOIN hosts h ON h.host_id = p.host_id LEFT JOIN orgs o ON o.code = c.region_code
            GROUP BY {"()" if group == "total" else key}{", c.project_id" if group == "project" else ""}) g
        {f"WHERE sort > {p(after)}" if after is not None else ""}
        ORDER BY sort {f"LIMIT {p(limit)}" if limit is not None else ""}"""
    return [dict(r) for r in await conn.fetch(sql, *p.values)]


async def children(conn: asyncpg.Connection, parent_code: str | None) -> list[asyncpg.Record]:
    """The org tree's children of `parent_code` (the provinces for None)."""
    if parent_code is None:
        return await conn.fetch("SELECT code, name, kind FROM orgs WHERE parent_code IS NULL ORDER BY code")
    return await conn.fetch("SELECT code, name, kind FROM orgs WHERE parent_code = $1 ORDER BY code", parent_code)


async def regions_of_kind(conn: asyncpg.Connection, scope: str | None, kinds: tuple[str, ...]
                          ) -> list[asyncpg.Record]:
    p = Params()
    where = f"kind = ANY({p(list(kinds))})" + (" AND " + within("code", scope, p) if scope else "")
    return await conn.fetch(f"SELECT code, name, kind FROM orgs WHERE {where} ORDER BY code", *p.values)


async def org(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT code, name, kind, parent_code FROM orgs WHERE code = $1", code)
