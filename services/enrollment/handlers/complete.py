"""Completion (结业), by the project's host or an admin over its organizer: the event carries the
project's hours, level and hour category, which the credits service awards."""

from __future__ import annotations

import uuid
from datetime import date

from services.enrollment.domain.enrollment import CompletionRules, decide_complete
from shared.unit_of_work import Reply, UnitOfWork

from .access import runs_project
from .enrollment_stream import load, record


async def handle(uow: UnitOfWork, enrollment_id: uuid.UUID, today: date) -> Reply:
    loaded = await load(uow, enrollment_id, runs_project)
    rules = CompletionRules(min_attendance_share=loaded.policy(today).min_attendance_share)
    return record(uow, loaded, decide_complete(loaded.state, project=loaded.project, today=today, rules=rules))
