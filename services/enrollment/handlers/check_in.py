"""Check-in (报到): the teacher from the app, the project's host, or an admin over the region.
A repeated check-in is harmless: 200 with the current state and no second event."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

from services.enrollment.domain.enrollment import CheckInCode, decide_check_in
from shared.refusal import Refused
from shared.unit_of_work import Reply, UnitOfWork

from .access import checks_in
from .enrollment_stream import load, record


async def handle(uow: UnitOfWork, enrollment_id: uuid.UUID, today: date) -> Reply:
    # A national check-in adds the category to the teacher's attended ones (004 §3.1), which a
    # nomination of the same teacher reads under the teacher's lock: the load takes it.
    loaded = await load(uow, enrollment_id, checks_in, lock_teacher=True)
    return record(uow, loaded, decide_check_in(loaded.state, project=loaded.project, today=today))


# The teacher's live place in the code's project (project_nominees, a guard), and whether that
# enrollment already redeemed this code.
_PLACE = """
SELECT n.enrollment_id,
       EXISTS (SELECT 1 FROM check_in_codes_used u WHERE u.nonce = $3 AND u.enrollment_id = n.enrollment_id) AS used
FROM project_nominees n WHERE n.project_id = $1 AND n.teacher_id = $2
"""


async def handle_code(uow: UnitOfWork, code: CheckInCode, teacher_id: uuid.UUID, today: date) -> Reply:
    """扫码报到: the teacher's app posts the code the host shows; it checks in the teacher's own
    place in that project. A teacher with no place there gets `code_foreign`."""
    place = await uow.conn.fetchrow(_PLACE, uuid.UUID(code.project_id), teacher_id, code.nonce)
    if place is None:
        raise Refused("code_foreign", "you hold no place in the project this check-in code is for", 403)
    loaded = await load(uow, place["enrollment_id"], checks_in, lock_teacher=True)
    return record(uow, loaded, decide_check_in(loaded.state, project=loaded.project, today=today,
                                               code=replace(code, used_here=place["used"])))
