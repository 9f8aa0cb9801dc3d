"""What approving and rejecting a claim share (approve_claim.py, reject_claim.py): only an
auditor whose subtree holds the claim's school reviews it (001 §5.4 审核); the decision is the
domain's, on the claim's stream as loaded."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from services.credits.domain.claims import NO_CLAIM, Claim, evolve_claim
from services.credits.events import store
from services.credits.titles import problem
from services.credits.views import claim_json
from shared.aggregate import load_state
from shared.auth import can_read
from shared.unit_of_work import Decided, Reply, UnitOfWork


async def review(uow: UnitOfWork, claim_id: uuid.UUID, decide: Callable[[Claim], Decided]) -> Reply:
    stream = f"claim-{claim_id}"
    state, version = await load_state(uow.conn, store, stream, evolve_claim, NO_CLAIM)
    if state is None:
        raise problem("claim_not_found", f"no claim {claim_id}", 404)
    if state.org_code is None or not can_read(uow.principal, state.org_code):
        raise problem("out_of_scope", "this claim is outside your jurisdiction", 403)
    expected = uow.expect(stream, version)
    events = decide(state)
    uow.record(stream, expected, events)
    for type_, data in events:
        state = evolve_claim(state, type_, data)
    now = version + len(events)
    return Reply(200, claim_json(state, now), {"ETag": f'"{now}"'})
