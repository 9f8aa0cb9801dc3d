"""Projector handlers: the org tree, host institutions and the teachers table.

OrgRegistered and HostRegistered are upserts (a re-registration renames), so their handlers
write whole rows keyed by code / id. TeacherRegistered carries work facts only; the teacher's
name and ID number live in `teacher_identities`, which no event can rebuild (see pii.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from services.enrollment.projector import handles


@handles("OrgRegistered")
async def org_registered(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO orgs (code, name, kind, parent_code, version) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
               parent_code = EXCLUDED.parent_code, version = EXCLUDED.version""",
        data["code"], data["name"], data["kind"], data.get("parent_code"), version,
    )


@handles("HostRegistered")
async def host_registered(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO hosts (id, name, province_code, version) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, province_code = EXCLUDED.province_code,
               version = EXCLUDED.version""",
        uuid.UUID(data["host_id"]), data["name"], data["province_code"], version,
    )


_TEACHERS = """
INSERT INTO teachers (id, school_code, subject, stage, title, hired_on, version)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::int[])
"""


@handles("TeacherRegistered")
async def teacher_registered(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await teachers_registered(conn, [(version, data)])


async def teachers_registered(conn: asyncpg.Connection, events: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """TeacherRegistered for many teachers in one statement (the CSV import's path; the
    single-event handler above goes through it too, so both write the same rows)."""
    if not events:
        return
    cols: list[list[Any]] = [[] for _ in range(7)]
    for version, d in events:
        hired = d.get("hired_on")
        row = (uuid.UUID(d["teacher_id"]), d["school_code"], d.get("subject"), d.get("stage"), d.get("title"),
               date.fromisoformat(hired) if hired else None, version)
        for col, value in zip(cols, row, strict=True):
            col.append(value)
    await conn.execute(_TEACHERS, *cols)
