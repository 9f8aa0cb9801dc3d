"""Allocate training funds to an org below (下拨, POST /v1/allocations), by the allocating org's
own administrator. Stream `allocation-<id>`. The allocating org's account is locked in the facts
query, the receiver's after it (facts.py: the lock order)."""

from __future__ import annotations

import uuid

from services.funding.domain.ledger import decide_allocate, require_own_admin
from services.funding.handlers.facts import load
from shared import orgtree
from shared.eventstore import NO_STREAM
from shared.unit_of_work import Reply, UnitOfWork


async def handle(uow: UnitOfWork, from_code: str, to_code: str, year: int, amount_fen: int) -> Reply:
    allocation_id = str(uuid.uuid4())
    # Only the source's account: it is the one judged, and the receiver's is locked by the guard's
    # write once the domain has found the receiver below the source — so always in tree order.
    facts = await load(uow.conn, year, orgs=[from_code, to_code], lock=[from_code])
    source = facts.org(from_code)
    require_own_admin(uow.principal.role, uow.principal.org, source)
    target = facts.org(to_code)
    chain = (await orgtree.chains(uow.conn, [target.code]))[target.code]
    events = decide_allocate(allocation_id, source, target, chain[1:], year, amount_fen, facts.account(from_code))
    uow.record(f"allocation-{allocation_id}", NO_STREAM, events)
    return Reply(201, events[0][1], {"ETag": '"1"', "Location": f"/v1/allocations/{allocation_id}"})
