"""The project's lifecycle (DOMAIN.md): submit the plan (004 §3.2: ≥ 10 days before start),
approve it (方案审核备案, by a higher administration), open for selection, start, close; or
cancel before it starts. Admins over the organizer act; approval is by a reviewer
(domain/project_refs.check_reviewer)."""

from __future__ import annotations

import uuid
from datetime import date

from services.enrollment.domain import project as domain
from services.enrollment.domain.policy import DEFAULT_POLICY, EnrollmentPolicy, policy_in_force, versions_of
from services.enrollment.projector.policies import province_rows
from shared.unit_of_work import Reply, UnitOfWork

from .project_stream import load, record

ACTIONS = ("submit-plan", "approve", "open", "start", "close")


def _decide(action: str, state: domain.ProjectState, today: date, policy: EnrollmentPolicy) -> domain.Events:
    if action == "submit-plan":
        return domain.decide_submit_plan(state, today, policy.projects, policy.label)
    return {"approve": domain.decide_approve, "open": domain.decide_open, "start": domain.decide_start,
            "close": domain.decide_close}[action](state, today)


async def handle(uow: UnitOfWork, project_id: uuid.UUID, action: str, today: date) -> Reply:
    """One of ACTIONS. Submitting the plan judges it under the enrollment policy in force today."""
    act = {"approve": "approve", "submit-plan": "report"}.get(action, "organize")  # the host files its plan
    loaded = await load(uow, project_id, act)
    policy = DEFAULT_POLICY  # read only by submit-plan
    if action == "submit-plan":
        organizer = domain.plan_of(loaded.state).organizer_code
        policy = policy_in_force(versions_of(await province_rows(uow.conn, organizer)), organizer, today)
    return record(uow, loaded, _decide(action, loaded.state, today, policy), 200,
                  {"id": str(project_id), "action": action})


async def cancel(uow: UnitOfWork, project_id: uuid.UUID, reason: str, today: date) -> Reply:
    loaded = await load(uow, project_id, "organize")
    return record(uow, loaded, domain.decide_cancel(loaded.state, reason, today), 200,
                  {"id": str(project_id), "action": "cancel"})
