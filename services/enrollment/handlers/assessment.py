"""Record a process or final assessment (002 §4.1.3), by the project's host or an admin over its
organizer. A second one of the same kind replaces the first."""

from __future__ import annotations

import uuid

from services.enrollment.domain.enrollment import decide_assessment
from shared.unit_of_work import Reply, UnitOfWork

from .access import runs_project
from .enrollment_stream import load, record


async def handle(uow: UnitOfWork, enrollment_id: uuid.UUID, kind: str, score: float | None, passed: bool) -> Reply:
    loaded = await load(uow, enrollment_id, runs_project)
    return record(uow, loaded, decide_assessment(loaded.state, kind=kind, score=score, passed=passed))
