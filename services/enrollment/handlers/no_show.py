"""Record a no-show (the nominee never checked in), by the project's host or an admin over its
organizer. Without a special reason it bars the teacher from national projects (004 §4.1)."""

from __future__ import annotations

import uuid
from datetime import date

from services.enrollment.domain.enrollment import decide_no_show
from shared.unit_of_work import Reply, UnitOfWork

from .access import runs_project
from .enrollment_stream import load, record


async def handle(uow: UnitOfWork, enrollment_id: uuid.UUID, special_reason: bool, today: date) -> Reply:
    # The bar lands in national_bars, which a nomination of the same teacher reads under the
    # teacher's lock: the load takes it.
    loaded = await load(uow, enrollment_id, runs_project, lock_teacher=True)
    policy = loaded.policy(today)
    return record(uow, loaded, decide_no_show(loaded.state, special_reason=special_reason, project=loaded.project,
                                              rules=policy.selection, policy_label=policy.label))
