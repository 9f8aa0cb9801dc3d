"""PUT /v1/policies/{jurisdiction_code}: publish an enrollment policy version, correct one, or
repeat it (nothing recorded). Decided by domain/policy.py decide_publish."""

from __future__ import annotations

from datetime import date

from services.enrollment.domain.policy import EnrollmentPolicy, decide_publish, evolve_policy, policy_to_data
from shared.unit_of_work import Reply, UnitOfWork
from shared.versioned import publish_version

from . import STORE


async def handle(uow: UnitOfWork, wanted: EnrollmentPolicy, today: date) -> Reply:
    code = wanted.jurisdiction_code
    done = await publish_version(uow, STORE, f"policy-{code}", wanted, evolve_policy,
                                 lambda state: decide_publish(state, wanted, today))
    assert wanted.effective_from is not None  # the API always sets it
    return Reply(201 if done.new else 200, {**policy_to_data(done.current), "policy": done.current.label,
                                            "version": done.version}, {
        "ETag": f'"{done.version}"', "Location": f"/v1/policies/{code}?as_of={wanted.effective_from.isoformat()}"})
