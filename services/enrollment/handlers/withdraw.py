"""Withdraw a nominee before check-in, by an admin over the nominating region. The guards give
the place back to the region and free the teacher's national slot of the year."""

from __future__ import annotations

import uuid

from services.enrollment.domain.enrollment import decide_withdraw
from shared.unit_of_work import Reply, UnitOfWork

from .access import region_admin
from .enrollment_stream import load, record


async def handle(uow: UnitOfWork, enrollment_id: uuid.UUID, reason: str) -> Reply:
    # No lock: freeing rows only widens what others may do (guards.py, lock order).
    loaded = await load(uow, enrollment_id, region_admin)
    return record(uow, loaded, decide_withdraw(loaded.state, reason=reason, project=loaded.project))
