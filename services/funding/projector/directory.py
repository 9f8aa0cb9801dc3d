"""Projections of the enrollment stream: the funding service's own copy of the org tree, host
institutions, teachers' schools, projects, and check-ins (报到) — the participants that
per-participant settlement counts (001 §6.7).

Exactly once in effect: the kernel's Applier records each source stream's last applied version
in the same transaction as these rows, so a redelivered or duplicated event is skipped; the
writes are upserts / insert-or-ignore besides, so even a replay without checkpoints changes
nothing. Both projections rebuild from the enrollment feed (`reset` empties their `tables`).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from shared.envelope import Envelope
from shared.projection import Projection


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


async def _org(conn: asyncpg.Connection, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO orgs (code, name, kind, parent_code) VALUES ($1, $2, $3, $4)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
               parent_code = EXCLUDED.parent_code""",
        d["code"], d["name"], d["kind"], d.get("parent_code"))


async def _host(conn: asyncpg.Connection, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO hosts (id, name, province_code) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, province_code = EXCLUDED.province_code""",
        _uuid(d["host_id"]), d["name"], d["province_code"])


async def _teacher(conn: asyncpg.Connection, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO teachers (id, school_code) VALUES ($1, $2)
           ON CONFLICT (id) DO UPDATE SET school_code = EXCLUDED.school_code""",
        _uuid(d["teacher_id"]), d["school_code"])


async def _project(conn: asyncpg.Connection, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO projects (id, code, name, level, year, host_id, organizer_code)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code, name = EXCLUDED.name, level = EXCLUDED.level,
               year = EXCLUDED.year, host_id = EXCLUDED.host_id, organizer_code = EXCLUDED.organizer_code""",
        _uuid(d["project_id"]), d["code"], d["name"], d["level"], int(d["year"]), _uuid(d.get("host_id")),
        d["organizer_code"])


class DirectoryProjection(Projection):
    # Durable consumer names share the enrollment stream with other services: prefix ours.
    name = "funding_directory"
    sources = ("enrollment",)
    tables = ("orgs", "hosts", "teachers", "projects")
    _apply = {"OrgRegistered": _org, "HostRegistered": _host, "TeacherRegistered": _teacher,
              "ProjectDrafted": _project}
    handles = frozenset(_apply)
    follows = frozenset({"org", "host", "teacher", "project"})  # the streams of those types: no checkpoint for the rest
    # Consumer contract (shared/contracts.py): what it reads of enrollment's published events.
    reads = {
        "OrgRegistered": frozenset({"code", "name", "kind", "parent_code"}),
        "HostRegistered": frozenset({"host_id", "name", "province_code"}),
        "TeacherRegistered": frozenset({"teacher_id", "school_code"}),
        "ProjectDrafted": frozenset({"project_id", "code", "name", "level", "year", "host_id", "organizer_code"}),
    }

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        await self._apply[event.type](conn, event.data)

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {', '.join(self.tables)}")


class CheckinProjection(Projection):
    name = "funding_checkins"
    sources = ("enrollment",)
    tables = ("checkins",)
    handles = frozenset({"TeacherCheckedIn"})
    follows = frozenset({"enrollment"})  # no checkpoint for teachers, orgs, projects (issue 19)
    reads = {"TeacherCheckedIn": frozenset({"enrollment_id", "project_id", "teacher_id", "region_code", "host_id",
                                            "checked_in_on"})}

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        d = event.data
        await conn.execute(
            """INSERT INTO checkins (enrollment_id, project_id, teacher_id, region_code, host_id, checked_in_on)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (enrollment_id) DO NOTHING""",
            _uuid(d["enrollment_id"]), _uuid(d["project_id"]), _uuid(d["teacher_id"]), d["region_code"],
            _uuid(d.get("host_id")), date.fromisoformat(d["checked_in_on"]))

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {', '.join(self.tables)}")


PROJECTIONS: list[Projection] = [DirectoryProjection(), CheckinProjection()]
