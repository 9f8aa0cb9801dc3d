"""Check-in (报到): the teacher from the app, the project's host, or an admin over the region.
A repeated check-in is harmless: 200 with the current state and no second event."""

from __future__ import annotations

import uuid
from datetime import date

from services.enrollment.domain.enrollment import decide_check_in
from shared.unit_of_work import Reply, UnitOfWork

from .access import checks_in
from .enrollment_stream import load, record


async def handle(uow: UnitOfWork, enrollment_id: uuid.UUID, today: date) -> Reply:
    # A national check-in adds the category to the teacher's attended ones (004 §3.1), which a
    # nomination of the same teacher reads under the teacher's lock: the load takes it.
    loaded = await load(uow, enrollment_id, checks_in, lock_teacher=True)
    return record(uow, loaded, decide_check_in(loaded.state, project=loaded.project, today=today))
