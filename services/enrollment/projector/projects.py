"""Projector handlers: projects, project_quotas, bulletins.

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

from services.enrollment.projector import handles
from shared.auth import subtree_prefix  # the same subtree rule org_within applies
from shared.refusal import Refused


def _id(data: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(data["project_id"])


def _num(value: float | int) -> Decimal:
    return Decimal(str(value))  # via str: the decimal the client wrote, not the float's binary expansion


@handles("ProjectDrafted")
async def drafted(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    first = d.get("first_year_ends_on")
    try:
        await conn.execute(
            """INSERT INTO projects (id, code, name, level, category, year, host_id, organizer_code, hours,
                   hour_category, starts_on, ends_on, cross_year, first_year_ends_on, practical_ratio, modules,
                   status, version)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                       'drafted', $17)""",
            _id(d), d["code"], d["name"], d["level"], d["category"], d["year"],
            uuid.UUID(d["host_id"]) if d.get("host_id") else None, d["organizer_code"], _num(d["hours"]),
            d["hour_category"], date.fromisoformat(d["starts_on"]), date.fromisoformat(d["ends_on"]),
            d["cross_year"], date.fromisoformat(first) if first else None, _num(d["practical_ratio"]),
            list(d.get("modules", [])), version,
        )
    except asyncpg.UniqueViolationError as exc:
        # The code is the project's public number (项目编号); two drafts racing for one lose here.
        raise Refused("project_code_exists", f"project code {d['code']} is already used") from exc


def _transition(event_type: str, status: str, column: str) -> None:
    @handles(event_type)
    async def moved(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
        await conn.execute(
            f"UPDATE projects SET status = $2, {column} = $3, version = $4 WHERE id = $1",
            _id(d), status, date.fromisoformat(d["on"]), version,
        )


for _type, _status, _column in (
    ("ProjectPlanSubmitted", "plan_submitted", "plan_submitted_on"),
    ("ProjectApproved", "approved", "approved_on"),
    ("ProjectOpened", "open", "opened_on"),
    ("ProjectStarted", "started", "started_on"),
    ("ProjectClosed", "closed", "closed_on"),
):
    _transition(_type, _status, _column)


@handles("ProjectCancelled")
async def cancelled(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE projects SET status = 'cancelled', cancelled_on = $2, cancel_reason = $3, version = $4"
        " WHERE id = $1", _id(d), date.fromisoformat(d["on"]), d.get("reason"), version,
    )


@handles("QuotaAllocated")
async def quota_allocated(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # ON CONFLICT DO UPDATE locks the row and judges `used` on its latest committed value, so a
    # nomination committing concurrently cannot slip under a lowered quota. `used` is the
    # nominations projector's column: only `places` is written here.
    ok = await conn.fetchval(
        """INSERT INTO project_quotas (project_id, region_code, places) VALUES ($1, $2, $3)
           ON CONFLICT (project_id, region_code) DO UPDATE SET places = EXCLUDED.places
           WHERE project_quotas.used <= EXCLUDED.places
           RETURNING true""",
        _id(d), d["region_code"], d["places"],
    )
    if not ok:
        used = await conn.fetchval("SELECT used FROM project_quotas WHERE project_id = $1 AND region_code = $2",
                                   _id(d), d["region_code"])
        raise Refused("quota_below_used", f"{used} places are already used in {d['region_code']}")
    await conn.execute("UPDATE projects SET version = $2 WHERE id = $1", _id(d), version)


@handles("BulletinSubmitted")
async def bulletin_submitted(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    try:
        await conn.execute(
            "INSERT INTO bulletins (project_id, issue_no, title, published_on) VALUES ($1, $2, $3, $4)",
            _id(d), d["issue_no"], d["title"], date.fromisoformat(d["published_on"]),
        )
    except asyncpg.UniqueViolationError as exc:
        raise Refused("bulletin_exists", f"issue {d['issue_no']} was already submitted") from exc
    await conn.execute("UPDATE projects SET version = $2 WHERE id = $1", _id(d), version)


async def load_project_row(conn: asyncpg.Connection, project_id: uuid.UUID | str) -> asyncpg.Record | None:
    """The project's query row (status, level, category, year, cross_year, host_id, hours,
    hour_category, starts_on, …), or None. For other modules' routes, e.g. nominations."""
    try:
        pid = project_id if isinstance(project_id, uuid.UUID) else uuid.UUID(str(project_id))
    except ValueError:
        return None
    return await conn.fetchrow("SELECT * FROM projects WHERE id = $1", pid)


async def load_project_detail(conn: asyncpg.Connection, project_id: uuid.UUID
                              ) -> tuple[asyncpg.Record, list[asyncpg.Record], list[asyncpg.Record]] | None:
    row = await load_project_row(conn, project_id)
    if row is None:
        return None
    quotas = await conn.fetch("SELECT region_code, places, used FROM project_quotas WHERE project_id = $1"
                              " ORDER BY region_code", project_id)
    bulletins = await conn.fetch("SELECT issue_no, title, published_on FROM bulletins WHERE project_id = $1"
                                 " ORDER BY issue_no", project_id)
    return row, quotas, bulletins


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
    rows = await conn.fetch(
        """SELECT p.* FROM projects p
           WHERE ($1::int IS NULL OR p.year = $1) AND ($2::text IS NULL OR p.level = $2)
             AND ($3::text IS NULL OR p.organizer_code = $3 OR p.organizer_code LIKE $4
                  OR EXISTS (SELECT 1 FROM project_quotas q WHERE q.project_id = p.id
                             AND (q.region_code = $3 OR q.region_code LIKE $4)))
             AND ($5::text IS NULL OR p.host_id::text = $5)
             AND ($6::date IS NULL OR (p.starts_on, p.id) > ($6::date, $7::uuid))
           ORDER BY p.starts_on, p.id LIMIT $8""",
        year, level, region, f"{prefix}%" if prefix else None, host, *after, limit + 1,
    )
    if len(rows) <= limit:
        return list(rows), None
    last = rows[limit - 1]
    return list(rows[:limit]), base64.urlsafe_b64encode(f"{last['starts_on']}|{last['id']}".encode()).decode()
