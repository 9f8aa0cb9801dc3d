"""HTTP routes: an enrollment's progress after check-in, one record at a time — attendance,
assessment, completion (结业), failure (不予结业), no-show — and the learner's evaluation. A whole
session's attendance from a CSV file is in attendance_import.py.

Who may act (checked by the handlers, which load the enrollment and its project):
- attendance, assessment, complete, fail, no-show: the project's host (role host, org = host id)
  or an admin whose subtree holds the project's organizer;
- evaluation: the teacher themself, once.
"""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import Field, StrictBool, StrictInt

from services.enrollment.api.inputs import Reason, StrictIn
from services.enrollment.api.replies import EnrollmentReply
from services.enrollment.handlers import assessment as assessment_handler
from services.enrollment.handlers import attendance as attendance_handler
from services.enrollment.handlers import complete as complete_handler
from services.enrollment.handlers import evaluate as evaluate_handler
from services.enrollment.handlers import fail as fail_handler
from services.enrollment.handlers import no_show as no_show_handler
from services.enrollment.handlers.access import ADMINS, REGION_ADMINS
from shared.auth import require_role
from shared.clock import Today
from shared.inputs import IsoDate, Note
from shared.unit_of_work import Command

router = APIRouter(tags=["enrollments"])
RUNNERS = ("host", *ADMINS)


class AttendanceCreate(StrictIn):
    session_date: IsoDate
    status: Literal["present", "absent", "leave"]
    hours: float = Field(ge=0, le=24, allow_inf_nan=False)


class AssessmentCreate(StrictIn):
    kind: Literal["process", "final"]
    score: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    passed: StrictBool


class FailureCreate(StrictIn):
    reason: Reason


class NoShowCreate(StrictIn):
    special_reason: StrictBool


class SpecialReasonCreate(StrictIn):
    reason: Reason


class EvaluationCreate(StrictIn):
    satisfied: StrictBool
    score: StrictInt = Field(ge=1, le=5)
    comment: Note | None = Field(default=None, max_length=2000)


@router.post("/v1/enrollments/{enrollment_id}/attendance", summary="Record a session's attendance (upsert)",
             response_model=EnrollmentReply)
async def attendance(enrollment_id: uuid.UUID, body: AttendanceCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *RUNNERS)
    return await cmd.run(lambda uow: attendance_handler.handle(uow, enrollment_id, body.session_date, body.status,
                                                               body.hours))


@router.post("/v1/enrollments/{enrollment_id}/assessment", summary="Record a process or final assessment",
             response_model=EnrollmentReply)
async def assessment(enrollment_id: uuid.UUID, body: AssessmentCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *RUNNERS)
    return await cmd.run(lambda uow: assessment_handler.handle(uow, enrollment_id, body.kind, body.score,
                                                               body.passed))


@router.post("/v1/enrollments/{enrollment_id}/complete", summary="Complete (结业): awards the project's hours",
             response_model=EnrollmentReply)
async def complete(enrollment_id: uuid.UUID, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *RUNNERS)
    return await cmd.run(lambda uow: complete_handler.handle(uow, enrollment_id, today))


@router.post("/v1/enrollments/{enrollment_id}/fail", summary="Fail (不予结业, 004 §2.4)",
             response_model=EnrollmentReply)
async def fail(enrollment_id: uuid.UUID, body: FailureCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *RUNNERS)
    return await cmd.run(lambda uow: fail_handler.handle(uow, enrollment_id, body.reason, today))


@router.post("/v1/enrollments/{enrollment_id}/no-show", summary="Record a no-show (may bar from 国培)",
             response_model=EnrollmentReply)
async def no_show(enrollment_id: uuid.UUID, body: NoShowCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *RUNNERS)
    return await cmd.run(lambda uow: no_show_handler.handle(uow, enrollment_id, body.special_reason, today))


@router.post("/v1/enrollments/{enrollment_id}/no-show/special-reason",
             summary="Attach a special reason to a no-show (特殊情况说明): lifts the bar",
             response_model=EnrollmentReply)
async def excuse_no_show(enrollment_id: uuid.UUID, body: SpecialReasonCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)
    return await cmd.run(lambda uow: no_show_handler.excuse(uow, enrollment_id, body.reason, today))


@router.post("/v1/enrollments/{enrollment_id}/evaluation", summary="The learner's evaluation, once",
             response_model=EnrollmentReply)
async def evaluation(enrollment_id: uuid.UUID, body: EvaluationCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "teacher")
    return await cmd.run(lambda uow: evaluate_handler.handle(uow, enrollment_id, body.satisfied, body.score,
                                                             body.comment))
