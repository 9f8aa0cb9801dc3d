"""Read model: projects, their bulletins (简报) and close-out materials delivered (总结材料). A
region's places are a guard (project_quotas, guards.py) that the reads here join.

Each handler also moves `projects.version` to the project stream's version, so the row's
version is the aggregate's ETag without reading the stream.
"""

from __future__ import annotations

import base64
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from shared.inline import InlineProjection
from shared.orgs import subtree_prefix
from shared.orgtree import subtree_sql

PROJECTS = InlineProjection("enrollment_projects", ("projects", "bulletins", "close_out_materials"))


def _num(value: float | int) -> Decimal:
    return Decimal(str(value))  # via str: the decimal the client wrote, not the float's binary expansion


@PROJECTS.handles("ProjectDrafted")
async def _drafted(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    first = d.get("first_year_ends_on")
    await conn.execute(
        """INSERT INTO projects (id, code, name, level, category, year, host_id, organizer_code, hours,
               hour_category, starts_on, ends_on, cross_year, first_year_ends_on, practical_ratio, modules,
               status, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'drafted', $17)""",
        d["project_id"], d["code"], d["name"], d["level"], d["category"], d["year"], d.get("host_id") or None,
        d["organizer_code"], _num(d["hours"]), d["hour_category"], date.fromisoformat(d["starts_on"]),
        date.fromisoformat(d["ends_on"]), d["cross_year"], date.fromisoformat(first) if first else None,
        _num(d["practical_ratio"]), list(d.get("modules", [])), version,
    )


def _transition(event_type: str, status: str, column: str) -> None:
    @PROJECTS.handles(event_type)
    async def moved(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
        await conn.execute(f"UPDATE projects SET status = $2, {column} = $3, version = $4 WHERE id = $1",
                           d["project_id"], status, date.fromisoformat(d["on"]), version)


for _type, _status, _column in (
    ("ProjectPlanSubmitted", "plan_submitted", "plan_submitted_on"),
    ("ProjectApproved", "approved", "approved_on"),
    ("ProjectOpened", "open", "opened_on"),
    ("ProjectStarted", "started", "started_on"),
    ("ProjectClosed", "closed", "closed_on"),
):
    _transition(_type, _status, _column)


@PROJECTS.handles("ProjectCancelled")
async def _cancelled(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute("UPDATE projects SET status = 'cancelled', cancelled_on = $2, cancel_reason = $3, version = $4"
                       " WHERE id = $1", d["project_id"], date.fromisoformat(d["on"]), d.get("reason"), version)


@PROJECTS.handles("QuotaAllocated", "QuotaSplit")
async def _quota(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute("UPDATE projects SET version = $2 WHERE id = $1", d["project_id"], version)


@PROJECTS.handles("BulletinSubmitted")
async def _bulletin(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO bulletins (project_id, issue_no, title, published_on) VALUES ($1, $2, $3, $4)",
                       d["project_id"], d["issue_no"], d["title"], date.fromisoformat(d["published_on"]))
    await conn.execute("UPDATE projects SET version = $2 WHERE id = $1", d["project_id"], version)


@PROJECTS.handles("CloseOutMaterialDelivered")
async def _close_out(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        """WITH material AS (INSERT INTO close_out_materials (material_id, project_id, kind, title, count, reference,
                                                               received_on, version)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8))
           UPDATE projects SET version = $8 WHERE id = $2""",
        d["material_id"], d["project_id"], d["kind"], d["title"], d["count"], d.get("reference"),
        date.fromisoformat(d["received_on"]), version)


async def load_close_out(conn: asyncpg.Connection, project_id: uuid.UUID
                         ) -> tuple[asyncpg.Record, list[asyncpg.Record]] | None:
    """The project's row (its host and version) and its close-out materials in the order received."""
    row = await conn.fetchrow("SELECT id, host_id, version FROM projects WHERE id = $1", project_id)
    if row is None:
        return None
    rows = await conn.fetch("SELECT material_id, kind, title, count, reference, received_on FROM close_out_materials"
                            " WHERE project_id = $1 ORDER BY version", project_id)
    return row, list(rows)


async def load_project_detail(conn: asyncpg.Connection, project_id: uuid.UUID
                              ) -> tuple[asyncpg.Record, list[asyncpg.Record], list[asyncpg.Record]] | None:
    row = await conn.fetchrow("SELECT * FROM projects WHERE id = $1", project_id)
    if row is None:
        return None
    quotas = await conn.fetch("SELECT region_code, places, used, split, split_from FROM project_quotas"
                              " WHERE project_id = $1"
                              " ORDER BY region_code", project_id)
    bulletins = await conn.fetch("SELECT issue_no, title, published_on FROM bulletins WHERE project_id = $1"
                                 " ORDER BY issue_no", project_id)
    return row, quotas, bulletins


_LIST = f"""
SELECT p.* FROM projects p
WHERE ($1::int IS NULL OR p.year = $1) AND ($2::text IS NULL OR p.level = $2)
  AND ($3::text IS NULL OR {subtree_sql("p.organizer_code", "$3", "$4")}
       OR EXISTS (SELECT 1 FROM project_quotas q WHERE q.project_id = p.id
                  AND {subtree_sql("q.region_code", "$3", "$4")}))
  AND ($5::text IS NULL OR p.host_id::text = $5)
  AND ($6::date IS NULL OR (p.starts_on, p.id) > ($6::date, $7::uuid))
ORDER BY p.starts_on, p.id LIMIT $8
"""


async def list_project_rows(conn: asyncpg.Connection, *, year: int | None, level: str | None, region: str | None,
                            host: str | None, cursor: str | None, limit: int
                            ) -> tuple[list[asyncpg.Record], str | None]:
    """A keyset page ordered by (starts_on, id) and the opaque cursor of the next one (ValueError
    for a cursor we did not issue). `region` matches projects organized in its subtree or holding
    a quota there; `host` (a host id as text) keeps only that host's projects."""
    after: tuple[date | None, uuid.UUID | None] = (None, None)
    if cursor:
        starts, pid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        after = (date.fromisoformat(starts), uuid.UUID(pid))
    prefix = subtree_prefix(region) if region else None
    rows = await conn.fetch(_LIST, year, level, region, prefix, host, *after, limit + 1)
    if len(rows) <= limit:
        return list(rows), None
    last = rows[limit - 1]
    return list(rows[:limit]), base64.urlsafe_b64encode(f"{last['starts_on']}|{last['id']}".encode()).decode()
