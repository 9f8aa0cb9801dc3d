"""Record one session's attendance, by the project's host or an admin over its organizer. A
second record for the same date replaces the first (the latest wins). A whole file of them is
import_attendance.py."""

from __future__ import annotations

import uuid
from datetime import date

from services.enrollment.domain.enrollment import decide_attendance
from shared.unit_of_work import Reply, UnitOfWork

from .access import runs_project
from .enrollment_stream import load, record


async def handle(uow: UnitOfWork, enrollment_id: uuid.UUID, session_date: date, status: str, hours: float) -> Reply:
    loaded = await load(uow, enrollment_id, runs_project)
    return record(uow, loaded, decide_attendance(loaded.state, session_date=session_date, status=status, hours=hours,
                                                 project=loaded.project))
