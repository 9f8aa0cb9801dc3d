"""Leave (请假, 002 §4.1.3): the teacher asks for leave from a session, or the project's host
records the request on their behalf; the host or an admin over the project's organizer approves
or refuses it (domain/leave.py decides)."""

from __future__ import annotations

import uuid
from datetime import date

from services.enrollment.domain.leave import decide_leave, decide_request_leave
from shared.unit_of_work import Reply, UnitOfWork

from .access import requests_leave, runs_project
from .enrollment_stream import load, record


async def request(uow: UnitOfWork, enrollment_id: uuid.UUID, session_date: date, reason: str, today: date) -> Reply:
    loaded = await load(uow, enrollment_id, requests_leave)
    by = "teacher" if uow.principal.role == "teacher" else "host"
    reply = record(uow, loaded, decide_request_leave(loaded.state, session_date=session_date, reason=reason,
                                                     requested_by=by, project=loaded.project, today=today))
    return Reply(201, {**reply.body, "session_date": session_date.isoformat(), "leave": "requested"},
                 {**reply.headers, "Location": f"/v1/enrollments/{enrollment_id}/leave-requests"})


async def decide(uow: UnitOfWork, enrollment_id: uuid.UUID, session_date: date, approve: bool, reason: str | None,
                 today: date) -> Reply:
    loaded = await load(uow, enrollment_id, runs_project)
    reply = record(uow, loaded, decide_leave(loaded.state, session_date=session_date, approve=approve, reason=reason,
                                             today=today))
    return Reply(200, {**reply.body, "session_date": session_date.isoformat(),
                       "leave": "approved" if approve else "rejected"}, reply.headers)
