"""Reverse an allocation or a disbursement (冲销; POST /v1/{allocations|disbursements}/{id}/reverse),
by the administrator of the org whose money it moved: a new FundsReversed on the entry's stream.

The entry's stream is locked before it is loaded, so racing reversals see each other (one
succeeds, the rest are `already_reversed`). For an allocation the facts query locks the
allocating org's account and then the receiver's (facts.py: the lock order): the receiver must
still hold the money."""

from __future__ import annotations

import uuid

from services.funding.domain.ledger import decide_reverse, evolve_entry, require_own_admin
from services.funding.handlers import STORE
from services.funding.handlers.facts import load, lock_stream
from services.funding.titles import problem
from shared.aggregate import load_state
from shared.auth import require_within
from shared.unit_of_work import Reply, UnitOfWork

NOT_FOUND = {"allocation": "allocation_not_found", "disbursement": "disbursement_not_found"}


async def handle(uow: UnitOfWork, kind: str, entry_id: uuid.UUID, reason: str) -> Reply:
    """`kind`: allocation or disbursement."""
    stream_id = f"{kind}-{entry_id}"
    await lock_stream(uow.conn, stream_id)
    state, version = await load_state(uow.conn, STORE, stream_id, evolve_entry, None)
    if state is None:
        # Spelled out, not f"{kind}_not_found": each operation's codes are read off the code.
        raise problem(NOT_FOUND[kind], f"no {kind} {entry_id}", 404)
    require_within(uow.principal, state.payer)
    receiver = state.data.get("to_code")
    # A recorded allocation went down the tree (org parents are fixed), so payer-then-receiver is
    # the tree order.
    codes = [state.payer, receiver] if receiver else [state.payer]
    facts = await load(uow.conn, state.data["year"], orgs=[state.payer], lock=codes)
    require_own_admin(uow.principal.role, uow.principal.org, facts.org(state.payer))
    expected = uow.expect(stream_id, version)
    events = decide_reverse(state, str(uuid.uuid4()), reason, facts.account(receiver) if receiver else None)
    uow.record(stream_id, expected, events)
    return Reply(200, events[0][1], {"ETag": f'"{version + 1}"'})
