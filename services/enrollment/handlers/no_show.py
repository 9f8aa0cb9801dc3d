"""Record a no-show (the nominee never checked in), by the project's host, an admin over its
organizer or the nominating region; later, attach its special reason (the nominating region),
which lifts the bar. Without a special reason it bars the teacher from national projects (004 四.1)."""

from __future__ import annotations

import uuid
from datetime import date

from services.enrollment.domain.enrollment import decide_excuse_no_show, decide_no_show
from shared.unit_of_work import Reply, UnitOfWork

from .access import records_no_show, region_admin
from .enrollment_stream import load, record


async def handle(uow: UnitOfWork, enrollment_id: uuid.UUID, special_reason: bool, today: date) -> Reply:
    # The bar lands in national_bars, which a nomination of the same teacher reads under the
    # teacher's lock: the load takes it.
    loaded = await load(uow, enrollment_id, records_no_show, lock_teacher=True)
    policy = loaded.policy(today)
    return record(uow, loaded, decide_no_show(loaded.state, special_reason=special_reason, project=loaded.project,
                                              rules=policy.selection, policy_label=policy.label))


async def excuse(uow: UnitOfWork, enrollment_id: uuid.UUID, reason: str, today: date) -> Reply:
    """The special reason for a recorded no-show, by an admin over the nominating region. It frees
    (the bar), so it takes no teacher lock, as a withdrawal takes none (guards.py)."""
    loaded = await load(uow, enrollment_id, region_admin)
    return record(uow, loaded, decide_excuse_no_show(loaded.state, reason=reason, today=today))
