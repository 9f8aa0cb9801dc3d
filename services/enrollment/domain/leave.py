"""Leave (请假) from a session, requested and then approved or refused: 002 §4.1.3 "三严: 严肃请假
制度、严格作息制度、严明考核制度,做好参训学员出勤和表现情况记录".

The teacher asks for leave for one session (a date) of their enrollment, or the project's host
records the request on their behalf; the host or an admin over the project's organizer approves
or refuses it. A session recorded as `leave` needs its approved leave (enrollment.
check_leave_approved), and approved leave is not attendance for the completion share
(enrollment.sessions_attended). One request per session: a refused one may be asked again.
"""

from __future__ import annotations

from datetime import date

from shared.refusal import Refused

from .enrollment import (
    CHECKED_IN,
    LEAVE_APPROVED,
    LEAVE_REQUESTED,
    NOMINATED,
    Enrollment,
    Events,
    ProjectFacts,
)

REQUESTERS = ("teacher", "host")  # who asked: the teacher, or the host on the teacher's behalf


def _ids(state: Enrollment) -> dict[str, object]:
    return {"enrollment_id": state.enrollment_id, "project_id": state.project_id, "teacher_id": state.teacher_id}


def decide_request_leave(state: Enrollment, *, session_date: date, reason: str, requested_by: str,
                         project: ProjectFacts, today: date) -> Events:
    """A leave request for one session of a live place (nominated or checked in) within the
    project's dates, with its reason; not a second one while one is pending or approved."""
    if state.status not in (NOMINATED, CHECKED_IN):
        raise Refused("invalid_transition", f"enrollment is {state.status}")
    if requested_by not in REQUESTERS:
        raise Refused("invalid_requester", f"leave is requested by one of {', '.join(REQUESTERS)}", 422)
    if not reason.strip():
        raise Refused("reason_required", "a leave request needs its reason", 422)
    if not project.starts_on <= session_date <= project.ends_on:
        raise Refused("session_out_of_range", f"session date {session_date} is outside the project's dates "
                                              f"{project.starts_on}..{project.ends_on}", 422)
    held = state.leaves.get(session_date.isoformat())
    if held in (LEAVE_REQUESTED, LEAVE_APPROVED):
        raise Refused("leave_exists", f"leave for {session_date} is already {held}")
    return [("LeaveRequested", {**_ids(state), "region_code": state.region_code, "host_id": project.host_id,
                                "session_date": session_date.isoformat(), "reason": reason,
                                "requested_by": requested_by, "requested_on": today.isoformat()})]


def decide_leave(state: Enrollment, *, session_date: date, approve: bool, reason: str | None, today: date) -> Events:
    """Approve or refuse a pending leave request, once. A refusal says why."""
    held = state.leaves.get(session_date.isoformat())
    if held is None:
        raise Refused("leave_not_found", f"no leave request for {session_date}", 404)
    if held != LEAVE_REQUESTED:
        raise Refused("leave_decided", f"the leave request for {session_date} is already {held}")
    if not approve and not (reason or "").strip():
        raise Refused("reason_required", "a refused leave request needs its reason", 422)
    return [("LeaveApproved" if approve else "LeaveRejected",
             {**_ids(state), "session_date": session_date.isoformat(), "reason": reason,
              "decided_on": today.isoformat()})]
