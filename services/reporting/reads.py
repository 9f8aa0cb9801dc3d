"""Reads behind the obligations report and the host ranking: projects with their bulletins, the
failed learners' list, and the projections' progress (lag)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import asyncpg

from services.reporting.domain.obligations import Bulletin, Delivery
from services.reporting.domain.policy import Published
from services.reporting.queries import Filter, Params, project_where, within


async def project(conn: asyncpg.Connection, project_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT p.*, h.name AS host_name FROM projects p LEFT JOIN hosts h ON h.host_id = p.host_id
           WHERE p.project_id = $1""", project_id)


async def project_regions(conn: asyncpg.Connection, project_id: uuid.UUID) -> list[str]:
    """Every region that holds places in, or nominated to, the project."""
    rows = await conn.fetch("""SELECT region_code FROM quotas WHERE project_id = $1
                               UNION SELECT region_code FROM enrollments WHERE project_id = $1""", project_id)
    return [r["region_code"] for r in rows]


async def bulletins(conn: asyncpg.Connection, project_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Bulletin]]:
    rows = await conn.fetch("""SELECT project_id, issue_no, title, published_on, received_on FROM bulletins
                               WHERE project_id = ANY($1::uuid[]) ORDER BY project_id, issue_no""", project_ids)
    out: dict[uuid.UUID, list[Bulletin]] = defaultdict(list)
    for r in rows:
        out[r["project_id"]].append(Bulletin(r["issue_no"], r["title"], r["published_on"], r["received_on"]))
    return out


async def deliveries(conn: asyncpg.Connection, project_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Delivery]]:
    """Close-out materials delivered (004 §3.3) per project, in the order received."""
    rows = await conn.fetch("""SELECT project_id, kind, kind_label, title, count, received_on, reference
                               FROM close_out_materials WHERE project_id = ANY($1::uuid[])
                               ORDER BY project_id, received_on, material_id""", project_ids)
    out: dict[uuid.UUID, list[Delivery]] = defaultdict(list)
    for r in rows:
        out[r["project_id"]].append(Delivery(r["kind"], r["kind_label"], r["title"], r["count"], r["received_on"],
                                             r["reference"]))
    return out


async def failed_learners(conn: asyncpg.Connection, project_id: uuid.UUID, region: str | None) -> list[dict[str, Any]]:
    """Ids only: reporting holds no names (events carry none); names come from enrollment's roster."""
    p = Params()
    where = f"project_id = {p(project_id)} AND status = 'failed'" + (
        " AND " + within("region_code", region, p) if region else "")
    rows = await conn.fetch(f"""SELECT enrollment_id, teacher_id, region_code, reason, finished_on FROM enrollments
                                WHERE {where} ORDER BY region_code, enrollment_id""", *p.values)
    return [{"enrollment_id": str(r["enrollment_id"]), "teacher_id": str(r["teacher_id"]),
             "region_code": r["region_code"], "reason": r["reason"], "failed_on": r["finished_on"]} for r in rows]


async def projects_of(conn: asyncpg.Connection, f: Filter) -> list[asyncpg.Record]:
    """Projects under a filter (not cancelled), for the ranking's bulletin term."""
    p = Params()
    return await conn.fetch(f"""SELECT project_id, host_id, organizer_code, starts_on, ends_on, status
                                FROM projects WHERE {project_where(f, p)} ORDER BY project_id""", *p.values)


async def host_names(conn: asyncpg.Connection) -> dict[str, str]:
    return {str(r["host_id"]): r["name"] for r in await conn.fetch("SELECT host_id, name FROM hosts")}


async def progress(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT projection, last_position, applied, updated_at FROM projection_state")
    return {r["projection"]: r for r in rows}


async def latest_year(conn: asyncpg.Connection) -> int | None:
    return await conn.fetchval("SELECT max(year) FROM projects WHERE status <> 'cancelled'")


async def published_policies(conn: asyncpg.Connection) -> list[Published]:
    """Every enrollment policy version reporting keeps (a few per jurisdiction at most)."""
    rows = await conn.fetch("SELECT jurisdiction_code, version, effective_from, body FROM policies"
                            " ORDER BY jurisdiction_code, version")
    return [Published(r["jurisdiction_code"], r["version"], r["effective_from"], r["body"]) for r in rows]
