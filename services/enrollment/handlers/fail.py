"""Failure (不予结业, 004 §2.4), with a reason, by the project's host or an admin over its
organizer. The failed learners' list is what reporting draws from these events."""

from __future__ import annotations

import uuid
from datetime import date

from services.enrollment.domain.enrollment import decide_fail
from shared.unit_of_work import Reply, UnitOfWork

from .access import runs_project
from .enrollment_stream import load, record


async def handle(uow: UnitOfWork, enrollment_id: uuid.UUID, reason: str, today: date) -> Reply:
    loaded = await load(uow, enrollment_id, runs_project)
    return record(uow, loaded, decide_fail(loaded.state, reason=reason, project=loaded.project, today=today))
