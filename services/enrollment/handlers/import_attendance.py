"""Import a session's attendance from CSV, all or nothing (domain/attendance_import.py judges
the file), by the project's host or an admin over its organizer.

A few statements for the whole file, not a few per row: the enrollments the file names by
teacher resolved at once, every enrollment's state and version read at once from the read model
(enrollment_stream.load_states), every stream recorded through one append (uow.record_many →
append_many), the attendance rows written by one bulk handler (projector/enrollments.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from services.enrollment.domain.attendance_import import Row, decide_import
from services.enrollment.domain.enrollment import INITIAL
from services.enrollment.titles import problem
from shared.unit_of_work import Reply, UnitOfWork

from .access import require, runs_project
from .enrollment_stream import load_project, load_states

_BY_TEACHER = """
SELECT teacher_id::text, id::text FROM enrollments
WHERE project_id = $1 AND teacher_id = ANY($2::uuid[]) AND status <> 'withdrawn'
"""


async def handle(uow: UnitOfWork, project_id: uuid.UUID, rows: list[Row], unreadable: list[dict[str, Any]]) -> Reply:
    """`rows` as parsed from the file; `unreadable`: the lines that did not parse, with why."""
    project = await load_project(uow.conn, project_id)
    require(runs_project(uow.principal, INITIAL, project))
    named = [r.teacher_id for r in rows if r.enrollment_id is None]
    by_teacher = dict(await uow.conn.fetch(_BY_TEACHER, project_id, named)) if named else {}
    rows = [r if r.enrollment_id or r.teacher_id not in by_teacher else
            Row(r.line, by_teacher[r.teacher_id], r.teacher_id, r.session_date, r.status, r.hours) for r in rows]
    loaded = await load_states(uow.conn, list({r.enrollment_id for r in rows if r.enrollment_id}))
    decided, refused = decide_import(rows, {eid: s for eid, (s, _) in loaded.items()}, project)
    errors = unreadable + refused
    if errors or not rows:
        raise problem("invalid_rows", f"{len(errors)} invalid rows; nothing was recorded" if errors
                      else "the file has no rows", 422, errors=sorted(errors, key=lambda e: e["line"]))
    uow.record_many([(f"enrollment-{eid}", loaded[eid][1], events) for eid, events in decided.items()])
    return Reply(200, {"recorded": len(rows), "enrollments": len(decided)})
