"""Draft a project, by an admin over its organizer. The code (项目编号) names one project: drafts
of one code queue on its lock (guards.py) and the later one reads the earlier one's code."""

from __future__ import annotations

from datetime import date

from services.enrollment import guards
from services.enrollment.domain.policy import policy_in_force, versions_of
from services.enrollment.domain.project import DraftProject, ProjectState
from services.enrollment.domain.project_refs import DraftFacts, decide_new_project
from services.enrollment.projector.policies import policy_rows_sql
from shared.eventstore import NO_STREAM
from shared.unit_of_work import Reply, UnitOfWork

from .access import project_act

_FACTS = f"""
SELECT EXISTS (SELECT 1 FROM orgs WHERE code = $1) AS organizer_known,
       $2::uuid IS NULL OR EXISTS (SELECT 1 FROM hosts WHERE id = $2) AS host_known,
       EXISTS (SELECT 1 FROM project_codes WHERE code = $3) AS code_taken,
       {policy_rows_sql("$1::text")}
"""


async def handle(uow: UnitOfWork, draft: DraftProject, today: date) -> Reply:
    project_act(uow.principal, draft, "organize")
    stream = f"project-{draft.project_id}"
    expected = uow.expect(stream, NO_STREAM)
    await guards.lock(uow, "project-code", draft.code)
    row = await uow.conn.fetchrow(_FACTS, draft.organizer_code, draft.host_id, draft.code)
    facts = DraftFacts(row["organizer_known"], row["host_known"], row["code_taken"])
    policy = policy_in_force(versions_of(row["policies"] or ()), draft.organizer_code, today)
    uow.record(stream, expected, decide_new_project(ProjectState(), draft, facts, policy.projects, policy.label))
    return Reply(201, {"id": draft.project_id, "version": 1},
                 {"ETag": '"1"', "Location": f"/v1/projects/{draft.project_id}"})
