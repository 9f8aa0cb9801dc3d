"""HTTP routes: an enrollment's progress after check-in, one record at a time — attendance,
assessment, completion (结业), failure, no-show — and the learner's evaluation. A whole
session's attendance from a CSV file is in attendance_import.py.

Who may act:
- attendance, assessment, complete, fail, no-show: the project's host (role host, org = host id)
  or an admin whose subtree holds the project's organizer;
- evaluation: the teacher themself, once.
Attendance for a date already recorded replaces it (the latest record wins, an upsert).
"""

from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import Field, StrictBool, StrictInt

from services.enrollment.api._enrollment_common import ADMINS, Reason, StrictIn, authorize, pure, run_command, runner
from services.enrollment.api.projects import Today  # Asia/Shanghai calendar day; tests override shanghai_today
from services.enrollment.domain import enrollment as domain
from services.enrollment.domain.enrollment import Enrollment, ProjectFacts
from shared.auth import Principal, require_role
from shared.commands import Command
from shared.inputs import IsoDate, Note

router = APIRouter(tags=["enrollments"])


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


class EvaluationCreate(StrictIn):
    satisfied: StrictBool
    score: StrictInt = Field(ge=1, le=5)
    comment: Note | None = Field(default=None, max_length=2000)


def attendee(pr: Principal, s: Enrollment, p: ProjectFacts) -> None:
    authorize(pr, pr.role == "teacher" and pr.sub == s.teacher_id)


@router.post("/v1/enrollments/{enrollment_id}/attendance", summary="Record a session's attendance (upsert)")
async def attendance(enrollment_id: uuid.UUID, body: AttendanceCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await run_command(cmd, enrollment_id, runner, pure(lambda s, p: domain.decide_attendance(
        s, session_date=body.session_date, status=body.status, hours=body.hours, project=p)))


@router.post("/v1/enrollments/{enrollment_id}/assessment", summary="Record a process or final assessment")
async def assessment(enrollment_id: uuid.UUID, body: AssessmentCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await run_command(cmd, enrollment_id, runner, pure(lambda s, p: domain.decide_assessment(
        s, kind=body.kind, score=body.score, passed=body.passed)))


@router.post("/v1/enrollments/{enrollment_id}/complete", summary="Complete (结业): awards the project's hours")
async def complete(enrollment_id: uuid.UUID, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await run_command(cmd, enrollment_id, runner,
                             pure(lambda s, p: domain.decide_complete(s, project=p, today=today)))


@router.post("/v1/enrollments/{enrollment_id}/fail", summary="Fail (不予结业, 004 §2.4)")
async def fail(enrollment_id: uuid.UUID, body: FailureCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await run_command(cmd, enrollment_id, runner,
                             pure(lambda s, p: domain.decide_fail(s, reason=body.reason, project=p, today=today)))


@router.post("/v1/enrollments/{enrollment_id}/no-show", summary="Record a no-show (may bar from 国培, 004 §4.1)")
async def no_show(enrollment_id: uuid.UUID, body: NoShowCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await run_command(cmd, enrollment_id, runner, pure(
        lambda s, p: domain.decide_no_show(s, special_reason=body.special_reason, project=p)))


@router.post("/v1/enrollments/{enrollment_id}/evaluation", summary="The learner's evaluation, once")
async def evaluation(enrollment_id: uuid.UUID, body: EvaluationCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "teacher")
    return await run_command(cmd, enrollment_id, attendee, pure(lambda s, p: domain.decide_evaluate(
        s, satisfied=body.satisfied, score=body.score, comment=body.comment, project=p)))
