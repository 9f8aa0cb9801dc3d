"""PUT /v1/policies/{jurisdiction_code}: publish an enrollment policy version, correct one, or
repeat it (nothing recorded). Decided by domain/policy.py decide_publish."""

from __future__ import annotations

from datetime import date

from services.enrollment.domain.policy import EnrollmentPolicy, decide_publish, evolve_policy, policy_to_data
from shared.aggregate import load_state
from shared.unit_of_work import Reply, UnitOfWork

from . import STORE

NO_VERSIONS: tuple[EnrollmentPolicy, ...] = ()


async def handle(uow: UnitOfWork, wanted: EnrollmentPolicy, today: date) -> Reply:
    code = wanted.jurisdiction_code
    stream = f"policy-{code}"
    state, version = await load_state(uow.conn, STORE, stream, evolve_policy, NO_VERSIONS)
    expected = uow.expect(stream, version)
    events = decide_publish(state, wanted, today)
    uow.record(stream, expected, events)
    now = version + len(events)
    new = bool(events) and all(v.effective_from != wanted.effective_from for v in state)
    published = evolve_policy(state, *events[0]) if events else state
    current = next(v for v in published if v.effective_from == wanted.effective_from)
    assert wanted.effective_from is not None  # the API always sets it
    return Reply(201 if new else 200, {**policy_to_data(current), "policy": current.label, "version": now}, {
        "ETag": f'"{now}"', "Location": f"/v1/policies/{code}?as_of={wanted.effective_from.isoformat()}"})
