"""Projection of the enrollment stream's reference data: orgs, hosts, projects
(with their lifecycle), quotas, bulletins, close-out materials delivered and the enrollment
policy versions (host duties). A city's split of its places to a county (QuotaSplit, 004 §2.2)
is the county's quota row naming the city it came from (`split_from`); queries.py counts the
city's cell as what it kept, so every place is counted once.

Exactly once in effect: the kernel's Applier records each source stream's last applied version
with these rows in one transaction. The writes are upserts, and a project row keeps the version
it was last moved to, so an event replayed without its checkpoint changes nothing either.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from shared.envelope import Envelope
from shared.projection import Projection

_STATUS = {"ProjectPlanSubmitted": "plan_submitted", "ProjectApproved": "approved", "ProjectOpened": "open",
           "ProjectStarted": "started", "ProjectClosed": "closed", "ProjectCancelled": "cancelled"}


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


async def _org(conn: asyncpg.Connection, e: Envelope) -> None:
    d = e.data
    await conn.execute(
        """INSERT INTO orgs (code, name, kind, parent_code) VALUES ($1, $2, $3, $4)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
               parent_code = EXCLUDED.parent_code""", d["code"], d["name"], d["kind"], d.get("parent_code"))


async def _host(conn: asyncpg.Connection, e: Envelope) -> None:
    d = e.data
    await conn.execute(
        """INSERT INTO hosts (host_id, name, province_code) VALUES ($1, $2, $3)
           ON CONFLICT (host_id) DO UPDATE SET name = EXCLUDED.name, province_code = EXCLUDED.province_code""",
        _uuid(d["host_id"]), d["name"], d.get("province_code"))


async def _drafted(conn: asyncpg.Connection, e: Envelope) -> None:
    d = e.data
    await conn.execute(
        """INSERT INTO projects (project_id, code, name, level, category, year, host_id, organizer_code,
                                 starts_on, ends_on, status, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'drafted', $11)
           ON CONFLICT (project_id) DO NOTHING""",
        _uuid(d["project_id"]), d["code"], d["name"], d["level"], d.get("category"), int(d["year"]),
        _uuid(d.get("host_id")), d["organizer_code"], _date(d["starts_on"]), _date(d["ends_on"]), e.stream_version)


async def _moved(conn: asyncpg.Connection, e: Envelope) -> None:
    await conn.execute(
        "UPDATE projects SET status = $2, status_on = $3, version = $4 WHERE project_id = $1 AND version < $4",
        _uuid(e.data["project_id"]), _STATUS[e.type], _date(e.data.get("on")), e.stream_version)


async def _quota(conn: asyncpg.Connection, e: Envelope) -> None:
    d = e.data
    await conn.execute(
        """INSERT INTO quotas (project_id, region_code, places) VALUES ($1, $2, $3)
           ON CONFLICT (project_id, region_code) DO UPDATE SET places = EXCLUDED.places""",
        _uuid(d["project_id"]), d["region_code"], int(d["places"]))


async def _split(conn: asyncpg.Connection, e: Envelope) -> None:
    d = e.data
    await conn.execute(
        """INSERT INTO quotas (project_id, region_code, places, split_from) VALUES ($1, $2, $3, $4)
           ON CONFLICT (project_id, region_code) DO UPDATE SET places = EXCLUDED.places,
               split_from = EXCLUDED.split_from""",
        _uuid(d["project_id"]), d["region_code"], int(d["places"]), d["city_code"])


async def _bulletin(conn: asyncpg.Connection, e: Envelope) -> None:
    d = e.data
    await conn.execute(
        """INSERT INTO bulletins (project_id, issue_no, title, published_on, received_on) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (project_id, issue_no) DO UPDATE SET title = EXCLUDED.title,
               published_on = EXCLUDED.published_on, received_on = EXCLUDED.received_on""",
        # Bulletins recorded before received_on existed: the stated date is all there is.
        _uuid(d["project_id"]), int(d["issue_no"]), d["title"], _date(d["published_on"]),
        _date(d.get("received_on") or d["published_on"]))


async def _close_out(conn: asyncpg.Connection, e: Envelope) -> None:
    d = e.data
    await conn.execute(
        """INSERT INTO close_out_materials (material_id, project_id, kind, kind_label, title, count, reference,
                                            received_on)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (material_id) DO NOTHING""",
        _uuid(d["material_id"]), _uuid(d["project_id"]), d["kind"], d.get("kind_label") or d["kind"], d["title"],
        int(d["count"]), d.get("reference"), _date(d["received_on"]))


async def _policy(conn: asyncpg.Connection, e: Envelope) -> None:
    d = e.data
    await conn.execute(
        """INSERT INTO policies (jurisdiction_code, version, effective_from, body) VALUES ($1, $2, $3, $4)
           ON CONFLICT (jurisdiction_code, version) DO NOTHING""",
        d["jurisdiction_code"], e.stream_version, _date(d["effective_from"]), d)


class DirectoryProjection(Projection):
    # Durable consumer names are shared by every service following the enrollment stream: prefixed.
    name = "reporting_directory"
    sources = ("enrollment",)
    _apply = {"OrgRegistered": _org, "HostRegistered": _host, "ProjectDrafted": _drafted,
              "QuotaAllocated": _quota, "QuotaSplit": _split, "BulletinSubmitted": _bulletin,
              "EnrollmentPolicyPublished": _policy,
              "CloseOutMaterialDelivered": _close_out,
              **dict.fromkeys(_STATUS, _moved)}
    handles = frozenset(_apply)
    follows = frozenset({"org", "host", "project", "policy"})  # the streams of those types: no checkpoint for the rest
    # Consumer contract (shared/contracts.py): what it reads of enrollment's published events.
    reads = {
        "OrgRegistered": frozenset({"code", "name", "kind", "parent_code"}),
        "HostRegistered": frozenset({"host_id", "name", "province_code"}),
        "ProjectDrafted": frozenset({"project_id", "code", "name", "level", "category", "year", "host_id",
                                     "organizer_code", "starts_on", "ends_on"}),
        "QuotaAllocated": frozenset({"project_id", "region_code", "places"}),
        "QuotaSplit": frozenset({"project_id", "region_code", "places", "city_code"}),
        "BulletinSubmitted": frozenset({"project_id", "issue_no", "title", "published_on", "received_on"}),
        "CloseOutMaterialDelivered": frozenset({"material_id", "project_id", "kind", "kind_label", "title", "count",
                                                "reference", "received_on"}),
        # The whole policy is kept; domain/policy.py reads the host duties and ranking weights of it.
        "EnrollmentPolicyPublished": frozenset({
            "jurisdiction_code", "effective_from", "bulletin_due_days", "short_project_max_days",
            "short_project_min_bulletins", "long_project_min_bulletins", "long_project_max_bulletins",
            "close_out_days", "close_out_min_cases", "close_out_min_course_videos", "ranking_weights",
            "ranking_weights.completion", "ranking_weights.satisfaction", "ranking_weights.bulletins",
            "ranking_weights.close_out"}),
        **dict.fromkeys(_STATUS, frozenset({"project_id", "on"})),
    }
    tables = ("orgs", "hosts", "projects", "quotas", "bulletins", "policies", "close_out_materials")

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        await self._apply[event.type](conn, event)

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {', '.join(self.tables)}")
