"""HTTP routes: getting a teacher into a project — nomination (报送), replacement (换人),
withdrawal and check-in (报到). Progress after check-in is in enrollment_progress.py and
attendance_import.py, reads in enrollment_reads.py. Who may act on an enrollment is checked by
the handlers (handlers/access.py), which load it; a route checks the role.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.enrollment import checkin_codes
from services.enrollment.api.inputs import Reason, StrictIn
from services.enrollment.api.replies import CheckInCode, EnrollmentReply
from services.enrollment.domain.enrollment import check_code_session
from services.enrollment.handlers import check_in as check_in_handler
from services.enrollment.handlers import nominate as nominate_handler
from services.enrollment.handlers import replace as replace_handler
from services.enrollment.handlers import withdraw as withdraw_handler
from services.enrollment.handlers.access import ADMINS, REGION_ADMINS, require, runs
from services.enrollment.handlers.enrollment_stream import load_project
from shared.auth import Authenticated, can_read, require_role
from shared.clock import Today
from shared.inputs import IsoDate
from shared.refusal import Refused
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


class CheckInCodeCreate(StrictIn):
    session_date: IsoDate


class CodeCheckIn(StrictIn):
    code: str = Field(min_length=16, max_length=1000)


class WithdrawalCreate(StrictIn):
    reason: Reason


@router.post("/v1/projects/{project_id}/nominations", status_code=201, summary="Nominate a teacher (报送)",
             response_model=EnrollmentReply)
async def nominate(project_id: uuid.UUID, body: NominationCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)
    require(can_read(cmd.principal, body.region_code))  # an admin nominates for a region of its subtree
    return await cmd.run(lambda uow: nominate_handler.handle(uow, project_id, body.teacher_id, body.region_code,
                                                             today, body.substitute_for),
                         locks=nominate_handler.locks(body.teacher_id))


@router.post("/v1/enrollments/{enrollment_id}/replace", summary="Replace the nominee (换人), before check-in",
             response_model=EnrollmentReply)
async def replace(enrollment_id: uuid.UUID, body: ReplacementCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)
    return await cmd.run(lambda uow: replace_handler.handle(uow, enrollment_id, body.teacher_id, today),
                         locks=replace_handler.locks(body.teacher_id))


@router.post("/v1/enrollments/{enrollment_id}/withdraw", summary="Withdraw a nominee, before check-in",
             response_model=EnrollmentReply)
async def withdraw(enrollment_id: uuid.UUID, body: WithdrawalCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)
    return await cmd.run(lambda uow: withdraw_handler.handle(uow, enrollment_id, body.reason))


@router.post("/v1/enrollments/{enrollment_id}/check-in", summary="Check in (报到); repeats are harmless",
             response_model=EnrollmentReply)
async def check_in(enrollment_id: uuid.UUID, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "teacher", "host", *ADMINS)
    return await cmd.run(lambda uow: check_in_handler.handle(uow, enrollment_id, today))


@router.post("/v1/projects/{project_id}/check-in-codes", status_code=201, response_model=CheckInCode,
             summary="A session's check-in code (扫码报到) for the host to show as a QR code")
async def check_in_code(project_id: uuid.UUID, body: CheckInCodeCreate, request: Request, principal: Authenticated,
                        now: Annotated[datetime, Depends(checkin_codes.utc_now)]) -> JSONResponse:
    require_role(principal, "host", *ADMINS)
    async with request.app.state.pool.acquire() as conn:
        project = await load_project(conn, project_id)
    require(runs(principal, project), "only the project's host or an admin over its organizer shows its codes")
    check_code_session(project, body.session_date)
    issued = checkin_codes.issue(request.app.state, project_id, body.session_date, now)
    return JSONResponse({"code": issued.code, "project_id": str(project_id),
                         "session_date": body.session_date.isoformat(), "expires_at": issued.expires_at.isoformat()},
                        status_code=201)


@router.post("/v1/check-ins", summary="Check in with the code the host shows (扫码报到), from the teacher's app",
             response_model=EnrollmentReply)
async def check_in_by_code(body: CodeCheckIn, request: Request, cmd: Command, today: Today,
                           now: Annotated[datetime, Depends(checkin_codes.utc_now)]) -> Response:
    require_role(cmd.principal, "teacher")
    code = checkin_codes.read(request.app.state, body.code, now)
    try:
        teacher_id = uuid.UUID(cmd.principal.sub)
    except ValueError:
        raise Refused("code_foreign", "this token names no teacher of the roster", 403) from None
    return await cmd.run(lambda uow: check_in_handler.handle_code(uow, code, teacher_id, today))


class SignInRow(BaseModel):
    enrollment_id: uuid.UUID
    teacher_id: uuid.UUID
    name: str | None  # 姓名 (the roster's; None for a teacher registered before names were kept)
    national_id_masked: str | None  # 610102********123X: enough to tell two namesakes apart
    school_code: str | None
    school_name: str | None
    region_code: str
    status: str


class SignInSheet(BaseModel):
    project_id: uuid.UUID
    items: list[SignInRow]


_SHEET = """
SELECT e.id AS enrollment_id, e.teacher_id, i.name, i.national_id_masked, t.school_code, o.name AS school_name,
       e.region_code, e.status
FROM enrollments e LEFT JOIN teachers t ON t.id = e.teacher_id
     LEFT JOIN teacher_identities i ON i.teacher_id = e.teacher_id LEFT JOIN orgs o ON o.code = t.school_code
WHERE e.project_id = $1 AND e.status <> 'withdrawn'
ORDER BY t.school_code NULLS LAST, i.name NULLS LAST, e.id
"""


@router.get("/v1/projects/{project_id}/sign-in-sheet", response_model=SignInSheet,
            summary="The learners of a project with their names, for the host's sign-in sheet (签到表)")
async def sign_in_sheet(project_id: uuid.UUID, request: Request, principal: Authenticated) -> SignInSheet:
    """Issue 20: the host runs the sessions and needs its learners' names; it and the admins over the
    organizer read them (names and masked ID numbers only — never the number)."""
    require_role(principal, "host", *ADMINS)
    async with request.app.state.pool.acquire() as conn:
        project = await load_project(conn, project_id)
        require(runs(principal, project), "only the project's host or an admin over its organizer reads its learners")
        rows = await conn.fetch(_SHEET, project_id)
    return SignInSheet(project_id=project_id, items=[SignInRow(**dict(r)) for r in rows])
