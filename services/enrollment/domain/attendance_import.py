"""A session's attendance from a file (POST /v1/projects/{id}/attendance/import), all or nothing:
every row is judged as a single attendance record would be (enrollment.decide_attendance), on
an enrollment of this project (of the teacher the row names, if it names one), and no
enrollment's date twice in one file. Any refused row refuses the file; each is reported by line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.refusal import Refused

from .enrollment import INITIAL, Enrollment, Events, ProjectFacts, decide_attendance, evolve


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    enrollment_id: str | None  # as the file gave it, or resolved from the teacher it names
    teacher_id: str | None  # as the file gave it
    session_date: date
    status: str
    hours: float


def _match(state: Enrollment, row: Row, project: ProjectFacts) -> None:
    if state.project_id != project.project_id or (row.teacher_id is not None and row.teacher_id != state.teacher_id):
        raise Refused("enrollment_not_found", "no such enrollment of this teacher in this project")


def decide_import(rows: list[Row], states: Mapping[str, Enrollment], project: ProjectFacts
                  ) -> tuple[dict[str, Events], list[dict[str, Any]]]:
    """(events by enrollment id, in the order the file first names them; the refused rows)."""
    now = dict(states)
    decided: dict[str, Events] = {}
    refused: list[dict[str, Any]] = []
    seen: set[tuple[str, date]] = set()
    for row in rows:
        eid = row.enrollment_id or ""
        state = now.get(eid, INITIAL)
        try:
            _match(state, row, project)
            if (eid, row.session_date) in seen:
                raise Refused("duplicate_row", "the same enrollment and date appear twice in the file")
            seen.add((eid, row.session_date))
            events = decide_attendance(state, session_date=row.session_date, status=row.status, hours=row.hours,
                                       project=project)
        except Refused as e:
            refused.append({"line": row.line, "code": e.code, "reason": e.message})
            continue
        for type_, data in events:
            now[eid] = evolve(now[eid], type_, data)
        decided.setdefault(eid, []).extend(events)
    return decided, refused
