"""The learner's evaluation of the training (双线评价, 002 §2), by the teacher on the place, once."""

from __future__ import annotations

import uuid

from services.enrollment.domain.enrollment import decide_evaluate
from shared.unit_of_work import Reply, UnitOfWork

from .access import attendee
from .enrollment_stream import load, record


async def handle(uow: UnitOfWork, enrollment_id: uuid.UUID, satisfied: bool, score: int,
                 comment: str | None) -> Reply:
    loaded = await load(uow, enrollment_id, attendee)
    return record(uow, loaded, decide_evaluate(loaded.state, satisfied=satisfied, score=score, comment=comment,
                                               project=loaded.project))
