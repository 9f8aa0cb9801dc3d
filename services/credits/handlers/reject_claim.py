"""POST /v1/claims/{id}/reject: the claim earns nothing; a reason is required. Decided by
domain/claims.py decide_reject."""

from __future__ import annotations

import uuid
from datetime import date

from services.credits.domain.claims import decide_reject
from services.credits.handlers.review_claim import review
from shared.unit_of_work import Reply, UnitOfWork


async def handle(uow: UnitOfWork, claim_id: uuid.UUID, reason: str, today: date) -> Reply:
    return await review(uow, claim_id, lambda claim: decide_reject(claim, reason=reason, today=today))
