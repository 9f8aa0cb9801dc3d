"""PUT /v1/policies/{jurisdiction_code}: publish a credit-hour policy version, correct one, or
repeat it (nothing recorded). Decided by domain/policies.py decide_publish."""

from __future__ import annotations

from datetime import date

from services.credits.domain.policies import decide_publish, evolve_policy
from services.credits.domain.policy import Policy
from services.credits.events import store
from services.credits.views import policy_json
from shared.aggregate import load_state
from shared.unit_of_work import Reply, UnitOfWork

NO_VERSIONS: tuple[Policy, ...] = ()

async def handle(uow: UnitOfWork, wanted: Policy, today: date) -> Reply:
    code = wanted.jurisdiction_code
    stream = f"policy-{code}"
    state, version = await load_state(uow.conn, store, stream, evolve_policy, NO_VERSIONS)
    expected = uow.expect(stream, version)
    events = decide_publish(state, wanted, today)
    uow.record(stream, expected, events)
    now = version + len(events)
    new = bool(events) and all(v.effective_from != wanted.effective_from for v in state)
    published = evolve_policy(state, *events[0]) if events else state
    current = next(v for v in published if v.effective_from == wanted.effective_from)
    return Reply(201 if new else 200, policy_json(current, code, now), {
        "ETag": f'"{now}"', "Location": f"/v1/policies/{code}?as_of={wanted.effective_from}"})
