"""HTTP routes: leave (请假, 002 §4.1.3 "三严: 严肃请假制度") from a session of an enrollment.

Who may act (checked by the handlers, which load the enrollment and its project):
- request: the teacher themself, or the project's host on the teacher's behalf;
- approve, reject: the project's host or an admin over the project's organizer;
- read: whoever may read the enrollment (enrollment_reads.py).
A session recorded as `leave` (POST .../attendance, the attendance import) needs its leave approved.
"""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from services.enrollment.api.enrollment_reads import _may_read
from services.enrollment.api.inputs import Reason, StrictIn
from services.enrollment.api.replies import LeaveReply
from services.enrollment.handlers import leave as leave_handler
from services.enrollment.handlers.access import ADMINS, require
from services.enrollment.projector.enrollments import list_leave_requests, load_enrollment_detail
from services.enrollment.titles import problem
from shared.auth import Authenticated, require_role
from shared.clock import Today
from shared.inputs import IsoDate
from shared.unit_of_work import Command

router = APIRouter(tags=["enrollments"])


class LeaveRequestCreate(StrictIn):
    session_date: IsoDate
    reason: Reason


class LeaveApproval(StrictIn):
    reason: Reason | None = None


class LeaveRejection(StrictIn):
    reason: Reason


class LeaveRequestPublic(BaseModel):
    session_date: date
    status: str  # requested, approved, rejected
    reason: str
    requested_by: str  # teacher, or host (on the teacher's behalf)
    requested_on: date
    decided_on: date | None
    decision_reason: str | None


class LeaveRequestList(BaseModel):
    enrollment_id: uuid.UUID
    items: list[LeaveRequestPublic]


@router.post("/v1/enrollments/{enrollment_id}/leave-requests", status_code=201,
             summary="Ask for leave from a session (请假): the teacher, or the host on their behalf",
             response_model=LeaveReply)
async def request_leave(enrollment_id: uuid.UUID, body: LeaveRequestCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "teacher", "host")
    return await cmd.run(lambda uow: leave_handler.request(uow, enrollment_id, body.session_date, body.reason, today))


@router.post("/v1/enrollments/{enrollment_id}/leave-requests/{session_date}/approve",
             summary="Approve a leave request (准假): the project's host or an admin over its organizer",
             response_model=LeaveReply)
async def approve_leave(enrollment_id: uuid.UUID, session_date: IsoDate, body: LeaveApproval, cmd: Command,
                        today: Today) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await cmd.run(lambda uow: leave_handler.decide(uow, enrollment_id, session_date, True, body.reason, today))


@router.post("/v1/enrollments/{enrollment_id}/leave-requests/{session_date}/reject",
             summary="Refuse a leave request, with the reason: the project's host or an admin over its organizer",
             response_model=LeaveReply)
async def reject_leave(enrollment_id: uuid.UUID, session_date: IsoDate, body: LeaveRejection, cmd: Command,
                       today: Today) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await cmd.run(lambda uow: leave_handler.decide(uow, enrollment_id, session_date, False, body.reason,
                                                          today))


@router.get("/v1/enrollments/{enrollment_id}/leave-requests", response_model=LeaveRequestList,
            summary="An enrollment's leave requests and their decisions")
async def leave_requests(enrollment_id: uuid.UUID, request: Request, principal: Authenticated) -> LeaveRequestList:
    async with request.app.state.pool.acquire() as conn:
        row = await load_enrollment_detail(conn, enrollment_id)
        if row is None:
            raise problem("enrollment_not_found", f"no enrollment {enrollment_id}", 404)
        require(_may_read(principal, row))
        rows = await list_leave_requests(conn, enrollment_id)
    return LeaveRequestList(enrollment_id=enrollment_id, items=[LeaveRequestPublic(**dict(r)) for r in rows])
