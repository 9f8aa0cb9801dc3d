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
from datetime import date

from services.enrollment import guards
from services.enrollment.domain.enrollment import INITIAL, NOMINATED
from services.enrollment.domain.nomination import Candidate, Quota, Vacancy, decide_nomination
from services.enrollment.domain.policy import policy_in_force, versions_of
from services.enrollment.projector.policies import policy_rows_sql
from shared.eventstore import NO_STREAM
from shared.orgtree import within
from shared.refusal import Refused
from shared.unit_of_work import Reply, UnitOfWork

from .enrollment_stream import project_facts

_FACTS = f"""
WITH quota AS (
    SELECT places, used FROM project_quotas WHERE project_id = $1 AND region_code = $3)
SELECT p.*, (SELECT school_code FROM teachers WHERE id = $2) AS teacher_school,
       (SELECT places FROM quota) AS places, (SELECT used FROM quota) AS used, {guards.CANDIDATE_FACTS},
       {policy_rows_sql("p.organizer_code")},
       (SELECT json_build_object('project_id', v.project_id::text, 'region_code', v.region_code, 'status', v.status)
        FROM enrollments v WHERE v.id = $4::uuid) AS vacancy,
       EXISTS (SELECT 1 FROM vacancies_filled WHERE enrollment_id = $4::uuid) AS vacancy_filled
FROM projects p WHERE p.id = $1
"""


def locks(teacher_id: uuid.UUID) -> list[str]:
    """The lock the handler takes first (the nominee's), for the route to name up front."""
    return [guards.lock_name("teacher", teacher_id)]


async def handle(uow: UnitOfWork, project_id: uuid.UUID, teacher_id: uuid.UUID, region_code: str,
                 today: date, substitute_for: uuid.UUID | None = None) -> Reply:
    """`substitute_for`: the no-show whose place this nomination fills (缺额调整补充选派)."""
    await guards.lock(uow, "teacher", teacher_id)
    facts = await uow.conn.fetchrow(_FACTS, project_id, teacher_id, region_code, substitute_for)
    if facts is None:
        raise Refused("project_not_found", f"no project {project_id}", 404)
    if facts["teacher_school"] is None:
        raise Refused("teacher_not_found", f"no teacher {teacher_id}", 404)
    candidate = Candidate(in_region=await within(uow.conn, facts["teacher_school"], region_code),
                          history=guards.national_history(facts), in_project=facts["in_project"])
    quota = None if facts["places"] is None else Quota(facts["places"], facts["used"])
    project = project_facts(facts)
    policy = policy_in_force(versions_of(facts["policies"] or ()), project.organizer_code, today)
    vacancy = None
    if substitute_for is not None:
        was = facts["vacancy"] or {}
        vacancy = Vacancy(str(substitute_for), was.get("project_id"), was.get("region_code"), was.get("status"),
                          facts["vacancy_filled"])
    enrollment_id = uuid.uuid4()
    events = decide_nomination(INITIAL, enrollment_id=str(enrollment_id), teacher_id=str(teacher_id),
                               region_code=region_code, project=project, candidate=candidate,
                               quota=quota, today=today, policy=policy, vacancy=vacancy)
    uow.record(f"enrollment-{enrollment_id}", NO_STREAM, events)
    return Reply(201, {"enrollment_id": str(enrollment_id), "status": NOMINATED, "version": 1},
                 {"ETag": '"1"', "Location": f"/v1/enrollments/{enrollment_id}"})
