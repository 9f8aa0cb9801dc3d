"""POST /v1/entries/{id}/revoke: an award or an approved claim is revoked by a later
EntryRevoked on its own stream, never deleted (DOMAIN.md; 001 §5.4). Who: auditors and county,
city and province admins over the org the entry was recorded under (the route checks the role).
Decided by domain/entries.py decide_revoke."""

from __future__ import annotations

import uuid
from datetime import date

from services.credits.domain.claims import NO_CLAIM, evolve_claim
from services.credits.domain.entries import NO_ENTRY, EntryState, decide_revoke, evolve_award
from services.credits.events import store
from services.credits.queries.ledger import entry
from services.credits.titles import problem
from shared.aggregate import load_state
from shared.auth import can_read
from shared.unit_of_work import Reply, UnitOfWork


async def _state(uow: UnitOfWork, stream: str) -> tuple[EntryState | None, int]:
    """The entry as its own stream has it: an award's, or an approved claim's."""
    if stream.startswith("award-"):
        return await load_state(uow.conn, store, stream, evolve_award, NO_ENTRY)
    claim, version = await load_state(uow.conn, store, stream, evolve_claim, NO_CLAIM)
    return (claim.as_entry() if claim else None), version


async def handle(uow: UnitOfWork, entry_id: uuid.UUID, reason: str, today: date) -> Reply:
    row = await entry(uow.conn, entry_id)
    if row["org_code"] is None or not can_read(uow.principal, row["org_code"]):
        raise problem("out_of_scope", "this entry is outside your jurisdiction", 403)
    stream = row["stream_id"]
    state, version = await _state(uow, stream)
    expected = uow.expect(stream, version)
    events = decide_revoke(state, reason=reason, today=today)
    uow.record(stream, expected, events)
    now = version + len(events)
    [(_, d)] = events  # one EntryRevoked
    return Reply(200, {"entry_id": str(entry_id), "teacher_id": d["teacher_id"], "hours": d["hours"],
                       "category": d["category"], "school_year": d["school_year"], "status": "revoked",
                       "revoked_on": d["revoked_on"], "reason": d["reason"], "version": now},
                 {"ETag": f'"{now}"'})
