"""Nomination (报送): an admin over the region puts one of its teachers on one of its places.

Locks (guards.py): the teacher's, so the teacher's national record and their places in the
project are read as the last nomination of the same teacher committed them. The region's places
are read without a lock: nominations of one region must not queue on its quota row from their
facts query to COMMIT. The guard's write (`used + 1`, last before COMMIT) meets the row's CHECK
(used ≤ places); one that loses the race for the last place runs again on the facts as they then
stand (shared/unit_of_work.py), and the domain refuses it `quota_exhausted`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import asyncpg

from services.enrollment import guards
from services.enrollment.domain.enrollment import INITIAL, NOMINATED, ProjectFacts
from services.enrollment.domain.nomination import Candidate, Quota, Vacancy, decide_nomination
from services.enrollment.domain.policy import EnrollmentPolicy, policy_in_force, versions_of
from services.enrollment.projector.policies import policy_rows_sql
from shared.eventstore import NO_STREAM
from shared.orgtree import within
from shared.refusal import Refused
from shared.unit_of_work import Reply, UnitOfWork

from .enrollment_stream import project_facts

# The vacancy a substitute names, as columns of a facts query whose `{param}` is its enrollment id.
VACANCY_FACTS = """
       (SELECT json_build_object('project_id', v.project_id::text, 'region_code', v.region_code, 'status', v.status)
        FROM enrollments v WHERE v.id = {param}::uuid) AS vacancy,
       EXISTS (SELECT 1 FROM vacancies_filled WHERE enrollment_id = {param}::uuid) AS vacancy_filled"""


_FACTS = f"""
WITH quota AS (
    SELECT places, used, split FROM project_quotas WHERE project_id = $1 AND region_code = $3)
SELECT p.*, (SELECT school_code FROM teachers WHERE id = $2) AS teacher_school,
       (SELECT places FROM quota) AS places, (SELECT used FROM quota) AS used,
       (SELECT split FROM quota) AS split, {guards.CANDIDATE_FACTS},
       {policy_rows_sql("p.organizer_code")}, {VACANCY_FACTS.format(param="$4")}
FROM projects p WHERE p.id = $1
"""


def locks(teacher_id: uuid.UUID) -> list[str]:
    """The lock the handler takes first (the nominee's), for the route to name up front."""
    return [guards.lock_name("teacher", teacher_id)]


@dataclass(frozen=True)
class NominationFacts:
    """What a nomination is decided on (domain/nomination.py), read in one query."""

    project: ProjectFacts
    teacher_school: str
    candidate: Candidate
    quota: Quota | None
    policies: tuple[EnrollmentPolicy, ...]
    vacancy: Vacancy | None = None  # a substitute's: the no-show's place it names

    def policy(self, on: date) -> EnrollmentPolicy:
        """The enrollment policy in force on `on` for the project's organizer."""
        return policy_in_force(self.policies, self.project.organizer_code, on)


async def nomination_facts(conn: asyncpg.Connection, project_id: uuid.UUID, teacher_id: uuid.UUID,
                           region_code: str, substitute_for: uuid.UUID | None = None) -> NominationFacts:
    """The facts of nominating `teacher_id` for `region_code` (`substitute_for`: in the place of
    that no-show): read under the teacher's lock by the nomination, without it by the
    eligibility preview (api/eligibility.py)."""
    facts = await conn.fetchrow(_FACTS, project_id, teacher_id, region_code, substitute_for)
    if facts is None:
        raise Refused("project_not_found", f"no project {project_id}", 404)
    if facts["teacher_school"] is None:
        raise Refused("teacher_not_found", f"no teacher {teacher_id}", 404)
    candidate = Candidate(in_region=await within(conn, facts["teacher_school"], region_code),
                          history=guards.national_history(facts), in_project=facts["in_project"])
    quota = None if facts["places"] is None else Quota(facts["places"], facts["used"], facts["split"])
    return NominationFacts(project_facts(facts), facts["teacher_school"], candidate, quota,
                           tuple(versions_of(facts["policies"] or ())), vacancy_of(facts, substitute_for))


def vacancy_of(row: asyncpg.Record, substitute_for: uuid.UUID | None) -> Vacancy | None:
    """The Vacancy of VACANCY_FACTS' columns, for a substitute nomination; None for another."""
    if substitute_for is None:
        return None
    was = row["vacancy"] or {}
    return Vacancy(str(substitute_for), was.get("project_id"), was.get("region_code"), was.get("status"),
                   row["vacancy_filled"])


async def handle(uow: UnitOfWork, project_id: uuid.UUID, teacher_id: uuid.UUID, region_code: str,
                 today: date, substitute_for: uuid.UUID | None = None) -> Reply:
    """`substitute_for`: the no-show whose place this nomination fills (缺额调整补充选派)."""
    await guards.lock(uow, "teacher", teacher_id)
    facts = await nomination_facts(uow.conn, project_id, teacher_id, region_code, substitute_for)
    enrollment_id = uuid.uuid4()
    events = decide_nomination(INITIAL, enrollment_id=str(enrollment_id), teacher_id=str(teacher_id),
                               region_code=region_code, project=facts.project, candidate=facts.candidate,
                               quota=facts.quota, today=today, policy=facts.policy(today), vacancy=facts.vacancy)
    uow.record(f"enrollment-{enrollment_id}", NO_STREAM, events)
    return Reply(201, {"enrollment_id": str(enrollment_id), "status": NOMINATED, "version": 1},
                 {"ETag": '"1"', "Location": f"/v1/enrollments/{enrollment_id}"})
