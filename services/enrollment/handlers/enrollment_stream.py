"""What every command on one enrollment starts and ends with: load the enrollment's state and
its project (one query, from the inline read models the stream's events keep in step), check who
may act, honour If-Match; then queue the decided events and answer with the enrollment's new
status and version (the ETag)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from services.enrollment.domain.enrollment import Enrollment, Events, ProjectFacts, evolve
from services.enrollment.domain.policy import EnrollmentPolicy, policy_in_force, versions_of
from services.enrollment.guards import lock_name
from services.enrollment.projector.policies import policy_rows_sql
from shared.auth import Principal
from shared.refusal import Refused
from shared.unit_of_work import Reply, UnitOfWork, lock_sql

from .access import require

# (who, the enrollment, its project, the teacher's school) → may act
MayAct = Callable[[Principal, Enrollment, ProjectFacts, str | None], bool]


def project_facts(row: Mapping[str, Any]) -> ProjectFacts:
    """A projects read-model row as the deciders see a project."""
    return ProjectFacts(
        project_id=str(row["id"]), status=row["status"], level=row["level"], category=row["category"],
        year=row["year"], hours=float(row["hours"]), hour_category=row["hour_category"],
        host_id=str(row["host_id"]) if row["host_id"] else None, organizer_code=row["organizer_code"],
        starts_on=row["starts_on"], ends_on=row["ends_on"], cross_year=row["cross_year"], opened_on=row["opened_on"])


async def load_project(conn: asyncpg.Connection, project_id: object) -> ProjectFacts:
    row = await conn.fetchrow("SELECT * FROM projects WHERE id = $1", project_id)
    if row is None:
        raise Refused("project_not_found", f"no project {project_id}", 404)
    return project_facts(row)


_PROJECT_COLUMNS = ("id", "status", "level", "category", "year", "hours", "hour_category", "host_id",
                    "organizer_code", "starts_on", "ends_on", "cross_year", "opened_on")
# An enrollment's state as the enrollments read model and its attendance, assessments and
# evaluations hold it; `{extra}` adds columns (load: its project's, and maybe a lock).
_STATE = """
SELECT e.id::text, e.project_id::text, e.teacher_id::text, e.region_code, e.status, e.checked_in_on, e.version,
       (SELECT json_agg(json_build_array(a.session_date, a.status, a.hours)) FROM attendance a
        WHERE a.enrollment_id = e.id) AS attendance,
       (SELECT json_object_agg(s.kind, s.passed) FROM assessments s WHERE s.enrollment_id = e.id) AS assessments,
       EXISTS (SELECT 1 FROM evaluations v WHERE v.enrollment_id = e.id) AS evaluated,
       coalesce(e.special_reason, false) AS excused,
       (SELECT json_object_agg(l.session_date, l.status) FROM leave_requests l WHERE l.enrollment_id = e.id) AS leaves,
       (SELECT school_code FROM teachers t WHERE t.id = e.teacher_id) AS teacher_school{extra}
"""
_STATES = _STATE.format(extra="") + "FROM enrollments e WHERE e.id = ANY($1::uuid[])"
_LOAD = _STATE.format(extra="".join(f", p.{c} AS p_{c}" for c in _PROJECT_COLUMNS) + ", "
                      + policy_rows_sql("p.organizer_code") + "{lock}") + \
    "FROM enrollments e JOIN projects p ON p.id = e.project_id WHERE e.id = $1"
_LOAD_PLAIN = _LOAD.format(lock="")
_LOAD_LOCKING_TEACHER = _LOAD.format(lock=", " + lock_sql(f"'{lock_name('teacher', '')}' || e.teacher_id::text"))


def _state(r: asyncpg.Record) -> tuple[Enrollment, int]:
    return Enrollment(
        enrollment_id=r[0], project_id=r[1], teacher_id=r[2], region_code=r[3], status=r[4],
        checked_in_on=r[5].isoformat() if r[5] is not None else None,
        attendance={d: (st, float(h)) for d, st, h in r["attendance"] or ()},
        assessments=dict(r["assessments"] or {}), evaluated=r["evaluated"], excused=r["excused"],
        leaves=dict(r["leaves"] or {})), r["version"]


async def load_states(conn: asyncpg.Connection, enrollment_ids: Sequence[str]) -> dict[str, tuple[Enrollment, int]]:
    """Many enrollments' states and stream versions in one query, for a whole file: the enrollments
    read model and its attendance, assessments and evaluations are the streams' fold, kept by the
    inline projection in every command's transaction (projector/enrollments.py: each handler moves
    `version` to the stream's; attendance hours as the table keeps them, to 0.1). Reading rows
    instead of folding every event of every stream keeps the cost flat as streams grow; the
    append at version + 1 still fails if a stream moved on meanwhile. Absent ids are left out.
    tests/enrollment/test_rebuild_equals_live.py holds it equal to the fold."""
    rows = await conn.fetch(_STATES, list(enrollment_ids))
    return {r[0]: _state(r) for r in rows}


@dataclass(frozen=True)
class Loaded:
    enrollment_id: uuid.UUID
    state: Enrollment
    version: int  # the version to append at
    project: ProjectFacts
    policies: tuple[EnrollmentPolicy, ...] = ()  # the versions of the project's province

    @property
    def stream(self) -> str:
        return f"enrollment-{self.enrollment_id}"

    def policy(self, on: date) -> EnrollmentPolicy:
        """The enrollment policy in force on `on` for the project's organizer."""
        return policy_in_force(self.policies, self.project.organizer_code, on)


async def load(uow: UnitOfWork, enrollment_id: uuid.UUID, may_act: MayAct, *, lock_teacher: bool = False) -> Loaded:
    """The enrollment's state and its project in one query, read as load_states reads them.
    `lock_teacher`: the same query takes the teacher's lock (guards.py), for a command that
    writes what a nomination of that teacher reads under it (check-in, no-show)."""
    row = await uow.conn.fetchrow(_LOAD_LOCKING_TEACHER if lock_teacher else _LOAD_PLAIN, enrollment_id)
    if row is None:
        raise Refused("enrollment_not_found", f"no enrollment {enrollment_id}", 404)
    state, version = _state(row)
    if lock_teacher:
        uow.held(lock_name("teacher", state.teacher_id))
    project = project_facts({c: row[f"p_{c}"] for c in _PROJECT_COLUMNS})
    require(may_act(uow.principal, state, project, row["teacher_school"]))
    return Loaded(enrollment_id, state, uow.expect(f"enrollment-{enrollment_id}", version), project,
                  tuple(versions_of(row["policies"] or ())))


def record(uow: UnitOfWork, loaded: Loaded, events: Events) -> Reply:
    """Queue the events; 200 with the state they lead to (no events: the state as it is)."""
    uow.record(loaded.stream, loaded.version, events)
    state = loaded.state
    for type_, data in events:
        state = evolve(state, type_, data)
    version = loaded.version + len(events)
    return Reply(200, {"enrollment_id": str(loaded.enrollment_id), "status": state.status, "version": version},
                 {"ETag": f'"{version}"'})
