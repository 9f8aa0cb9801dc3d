"""Read model: the teachers table, from TeacherRegistered — work facts only. The teacher's name
and ID number live in `teacher_identities`, which no event can rebuild (see pii.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from shared.inline import InlineProjection, Pending

TEACHERS = InlineProjection("enrollment_teachers", ("teachers",))

_INSERT = """
INSERT INTO teachers (id, school_code, subject, stage, title, hired_on, version)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::int[])
"""


@TEACHERS.handles_many("TeacherRegistered")
async def _registered_many(conn: asyncpg.Connection, events: Sequence[Pending]) -> None:
    """TeacherRegistered, every run of them in one statement (a whole roster import)."""
    cols: list[list[Any]] = [[] for _ in range(7)]
    for e in events:
        d, hired = e.data, e.data.get("hired_on")
        row = (d["teacher_id"], d["school_code"], d.get("subject"), d.get("stage"), d.get("title"),
               date.fromisoformat(hired) if hired else None, e.version)
        for col, value in zip(cols, row, strict=True):
            col.append(value)
    await conn.execute(_INSERT, *cols)

