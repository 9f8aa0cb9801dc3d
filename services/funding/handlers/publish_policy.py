"""Publish a jurisdiction's funding policy version (PUT /v1/policies/{jurisdiction_code}).
Stream `policy-<jurisdiction_code>`, one FundingPolicyPublished per version or correction; the
stream's version is the policy version a published verdict names (projector/policies.py)."""

from __future__ import annotations

from services.funding.domain import policy
from services.funding.domain.policy import FundingPolicy
from services.funding.handlers import STORE
from services.funding.handlers.facts import lock_stream, org_not_found
from shared.aggregate import load_state
from shared.unit_of_work import Reply, UnitOfWork


async def handle(uow: UnitOfWork, wanted: FundingPolicy) -> Reply:
    code = wanted.jurisdiction_code
    kind = await uow.conn.fetchval("SELECT kind FROM orgs WHERE code = $1", code)
    if kind is None:
        raise org_not_found(code)
    stream_id = f"policy-{code}"
    await lock_stream(uow.conn, stream_id)
    state, version = await load_state(uow.conn, STORE, stream_id, policy.evolve, policy.Versions())
    expected = uow.expect(stream_id, version)
    events = policy.decide_publish(state, wanted, kind)
    uow.record(stream_id, expected, events)
    status = 201 if events and wanted.effective_from not in state else 200
    return Reply(status, policy.to_data(wanted),
                 {"ETag": f'"{version + len(events)}"', "Location": f"/v1/policies/{code}"})
