"""PUT /v1/policies/{jurisdiction_code}: publish a credit-hour policy version, correct one, or
repeat it (nothing recorded). Decided by domain/policies.py decide_publish."""

from __future__ import annotations

from datetime import date

from services.credits.domain.policies import decide_publish, evolve_policy
from services.credits.domain.policy import Policy
from services.credits.events import store
from services.credits.views import policy_json
from shared.unit_of_work import Reply, UnitOfWork
from shared.versioned import publish_version


async def handle(uow: UnitOfWork, wanted: Policy, today: date) -> Reply:
    code = wanted.jurisdiction_code
    done = await publish_version(uow, store, f"policy-{code}", wanted, evolve_policy,
                                 lambda state: decide_publish(state, wanted, today))
    return Reply(201 if done.new else 200, policy_json(done.current, code, done.version), {
        "ETag": f'"{done.version}"', "Location": f"/v1/policies/{code}?as_of={wanted.effective_from}"})
