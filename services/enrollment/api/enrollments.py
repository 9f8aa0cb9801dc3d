"""HTTP routes: getting a teacher into a project — nomination (报送), replacement (换人),
withdrawal and check-in (报到). Progress after check-in is in enrollment_progress.py and
attendance_import.py, reads in enrollment_reads.py. Who may act on an enrollment is checked by
the handlers (handlers/access.py), which load it; a route checks the role.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from pydantic import Field

from services.enrollment.api.inputs import Reason, StrictIn
from services.enrollment.handlers import check_in as check_in_handler
from services.enrollment.handlers import nominate as nominate_handler
from services.enrollment.handlers import replace as replace_handler
from services.enrollment.handlers import withdraw as withdraw_handler
from services.enrollment.handlers.access import ADMINS, REGION_ADMINS, require
from shared.auth import can_read, require_role
from shared.clock import Today
from shared.unit_of_work import Command

router = APIRouter(tags=["enrollments"])


class NominationCreate(StrictIn):
    teacher_id: uuid.UUID
    region_code: str = Field(min_length=2, max_length=32, pattern=r"^[0-9A-Za-z]+$")
    substitute_for: uuid.UUID | None = Field(
        None, description="a no-show of this project and region whose place this nomination fills "
                          "(缺额调整补充选派, 004 二(四)): allowed after the nomination window and once the "
                          "project started")


class ReplacementCreate(StrictIn):
    teacher_id: uuid.UUID


class WithdrawalCreate(StrictIn):
    reason: Reason


@router.post("/v1/projects/{project_id}/nominations", status_code=201, summary="Nominate a teacher (报送)")
async def nominate(project_id: uuid.UUID, body: NominationCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)
    require(can_read(cmd.principal, body.region_code))  # an admin nominates for a region of its subtree
    return await cmd.run(lambda uow: nominate_handler.handle(uow, project_id, body.teacher_id, body.region_code,
                                                             today, body.substitute_for),
                         locks=nominate_handler.locks(body.teacher_id))


@router.post("/v1/enrollments/{enrollment_id}/replace", summary="Replace the nominee (换人), before check-in")
async def replace(enrollment_id: uuid.UUID, body: ReplacementCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)
    return await cmd.run(lambda uow: replace_handler.handle(uow, enrollment_id, body.teacher_id, today),
                         locks=replace_handler.locks(body.teacher_id))


@router.post("/v1/enrollments/{enrollment_id}/withdraw", summary="Withdraw a nominee, before check-in")
async def withdraw(enrollment_id: uuid.UUID, body: WithdrawalCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)
    return await cmd.run(lambda uow: withdraw_handler.handle(uow, enrollment_id, body.reason))


@router.post("/v1/enrollments/{enrollment_id}/check-in", summary="Check in (报到); repeats are harmless")
async def check_in(enrollment_id: uuid.UUID, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "teacher", "host", *ADMINS)
    return await cmd.run(lambda uow: check_in_handler.handle(uow, enrollment_id, today))
