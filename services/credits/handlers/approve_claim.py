"""POST /v1/claims/{id}/approve: the claim becomes a ledger entry (entry_id = claim_id).
Decided by domain/claims.py decide_approve."""

from __future__ import annotations

import uuid
from datetime import date

from services.credits.domain.claims import decide_approve
from services.credits.handlers.review_claim import review
from shared.unit_of_work import Reply, UnitOfWork


async def handle(uow: UnitOfWork, claim_id: uuid.UUID, reason: str | None, today: date) -> Reply:
    return await review(uow, claim_id, lambda claim: decide_approve(claim, today=today, reason=reason))
