"""What every command on one enrollment starts and ends with: load the enrollment's stream and
its project, check who may act, honour If-Match; then queue the decided events and answer with
the enrollment's new status and version (the ETag)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg

from services.enrollment.domain.enrollment import INITIAL, Enrollment, Events, ProjectFacts, evolve
from shared.aggregate import load_state
from shared.auth import Principal
from shared.refusal import Refused
from shared.unit_of_work import Reply, UnitOfWork

from . import STORE
from .access import require

MayAct = Callable[[Principal, Enrollment, ProjectFacts], bool]


def project_facts(row: asyncpg.Record) -> ProjectFacts:
    """A projects read-model row as the deciders see a project."""
    return ProjectFacts(
        project_id=str(row["id"]), status=row["status"], level=row["level"], category=row["category"],
        year=row["year"], hours=float(row["hours"]), hour_category=row["hour_category"],
        host_id=str(row["host_id"]) if row["host_id"] else None, organizer_code=row["organizer_code"],
        starts_on=row["starts_on"], ends_on=row["ends_on"], cross_year=row["cross_year"])


async def load_project(conn: asyncpg.Connection, project_id: object) -> ProjectFacts:
    row = await conn.fetchrow("SELECT * FROM projects WHERE id = $1", project_id)
    if row is None:
        raise Refused("project_not_found", f"no project {project_id}", 404)
    return project_facts(row)


_STATES = """
SELECT e.id::text, e.project_id::text, e.teacher_id::text, e.region_code, e.status, e.checked_in_on, e.version,
       (SELECT json_agg(json_build_array(a.session_date, a.status, a.hours)) FROM attendance a
        WHERE a.enrollment_id = e.id) AS attendance,
       (SELECT json_object_agg(s.kind, s.passed) FROM assessments s WHERE s.enrollment_id = e.id) AS assessments,
       EXISTS (SELECT 1 FROM evaluations v WHERE v.enrollment_id = e.id) AS evaluated
FROM enrollments e WHERE e.id = ANY($1::uuid[])
"""


async def load_states(conn: asyncpg.Connection, enrollment_ids: Sequence[str]) -> dict[str, tuple[Enrollment, int]]:
    """Many enrollments' states and stream versions in one query, for a whole file: the enrollments
    read model and its attendance, assessments and evaluations are the streams' fold, kept by the
    inline projection in every command's transaction (projector/enrollments.py: each handler moves
    `version` to the stream's; attendance hours as the table keeps them, to 0.1). Reading rows
    instead of folding every event of every stream keeps the cost flat as streams grow; the
    append at version + 1 still fails if a stream moved on meanwhile. Absent ids are left out.
    tests/enrollment/test_rebuild_equals_live.py holds it equal to the fold."""
    rows = await conn.fetch(_STATES, list(enrollment_ids))
    return {r[0]: (Enrollment(
        enrollment_id=r[0], project_id=r[1], teacher_id=r[2], region_code=r[3], status=r[4],
        checked_in_on=r[5].isoformat() if r[5] is not None else None,
        attendance={d: (st, float(h)) for d, st, h in r["attendance"] or ()},
        assessments=dict(r["assessments"] or {}), evaluated=r["evaluated"]), r["version"]) for r in rows}


@dataclass(frozen=True)
class Loaded:
    enrollment_id: uuid.UUID
    state: Enrollment
    version: int  # the version to append at
    project: ProjectFacts

    @property
    def stream(self) -> str:
        return f"enrollment-{self.enrollment_id}"


async def load(uow: UnitOfWork, enrollment_id: uuid.UUID, may_act: MayAct) -> Loaded:
    stream = f"enrollment-{enrollment_id}"
    state, version = await load_state(uow.conn, STORE, stream, evolve, INITIAL)
    if version == 0:
        raise Refused("enrollment_not_found", f"no enrollment {enrollment_id}", 404)
    project = await load_project(uow.conn, state.project_id)
    require(may_act(uow.principal, state, project))
    return Loaded(enrollment_id, state, uow.expect(stream, version), project)


def record(uow: UnitOfWork, loaded: Loaded, events: Events) -> Reply:
    """Queue the events; 200 with the state they lead to (no events: the state as it is)."""
    uow.record(loaded.stream, loaded.version, events)
    state = loaded.state
    for type_, data in events:
        state = evolve(state, type_, data)
    version = loaded.version + len(events)
    return Reply(200, {"enrollment_id": str(loaded.enrollment_id), "status": state.status, "version": version},
                 {"ETag": f'"{version}"'})
