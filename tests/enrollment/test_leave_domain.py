"""Leave (请假) and the attendance it excuses, in Given events / When command / Then events form
(issue 20). Pure: no database, no clock.

002 §4.1.3 "要求做到'三严'即严肃请假制度、严格作息制度、严明考核制度,做好参训学员出勤和表现情况记录":
leave is requested and approved, not declared; an attendance record of `leave` needs it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.enrollment.domain import enrollment as d
from services.enrollment.domain.leave import decide_leave, decide_request_leave
from shared.refusal import Refused
from tests.enrollment.test_enrollment_domain import CHECKED_IN, IDS, NOMINATED, STARTED, given, leave, session

ON = date(2023, 7, 14)
DAY = date(2023, 7, 16)


def refused(code: str, fn, *args, http: int = 409, **kwargs) -> None:
    with pytest.raises(Refused) as exc:
        fn(*args, **kwargs)
    assert (exc.value.code, exc.value.status) == (code, http)


def ask(state: d.Enrollment, day: date = DAY, by: str = "teacher", reason: str = "家中有事") -> d.Events:
    return decide_request_leave(state, session_date=day, reason=reason, requested_by=by, project=STARTED, today=ON)


def test_the_teacher_asks_for_leave_from_a_session_and_the_host_approves_it():
    # Given a checked-in teacher
    state = given(NOMINATED, CHECKED_IN)
    # When the teacher asks for leave from the session of 16 July
    asked = ask(state)
    # Then LeaveRequested names the session, the reason and who asked
    assert asked == [("LeaveRequested", {**IDS, "region_code": "610102", "host_id": "h-1",
                                         "session_date": "2023-07-16", "reason": "家中有事",
                                         "requested_by": "teacher", "requested_on": "2023-07-14"})]
    # And when the host approves it, Then LeaveApproved
    state = given(NOMINATED, CHECKED_IN, *asked)
    assert state.leaves == {"2023-07-16": "requested"}
    approved = decide_leave(state, session_date=DAY, approve=True, reason=None, today=ON)
    assert approved == [("LeaveApproved", {**IDS, "session_date": "2023-07-16", "reason": None,
                                           "decided_on": "2023-07-14"})]
    # And the session may then be recorded as leave
    state = given(NOMINATED, CHECKED_IN, *asked, *approved)
    assert d.decide_attendance(state, session_date=DAY, status="leave", hours=0, project=STARTED)


def test_the_host_records_a_request_on_the_teachers_behalf_before_check_in_too():
    assert ask(given(NOMINATED), by="host")[0][1]["requested_by"] == "host"


def test_leave_not_approved_is_no_leave():
    # Given no request, a pending one, a refused one
    for state in (given(NOMINATED, CHECKED_IN), given(NOMINATED, CHECKED_IN, *leave("2023-07-16")),
                  given(NOMINATED, CHECKED_IN, *leave("2023-07-16", "LeaveRejected"))):
        # When the session is recorded as leave, Then leave_not_approved (its own code)
        refused("leave_not_approved", d.decide_attendance, state, session_date=DAY, status="leave", hours=0,
                project=STARTED)
        # But it may be recorded as absent (or present)
        assert d.decide_attendance(state, session_date=DAY, status="absent", hours=0, project=STARTED)
    # Leave approved for another day is not this day's
    other = given(NOMINATED, CHECKED_IN, *leave("2023-07-17", "LeaveApproved"))
    refused("leave_not_approved", d.decide_attendance, other, session_date=DAY, status="leave", hours=0,
            project=STARTED)


def test_request_refusals():
    state = given(NOMINATED, CHECKED_IN)
    refused("session_out_of_range", ask, state, date(2023, 7, 31), http=422)
    refused("reason_required", ask, state, reason="  ", http=422)
    refused("invalid_requester", ask, state, by="county_admin", http=422)
    refused("leave_exists", ask, given(NOMINATED, CHECKED_IN, *leave("2023-07-16")))
    refused("leave_exists", ask, given(NOMINATED, CHECKED_IN, *leave("2023-07-16", "LeaveApproved")))
    assert ask(given(NOMINATED, CHECKED_IN, *leave("2023-07-16", "LeaveRejected")))  # asked again after a refusal
    for done in ("EnrollmentCompleted", "EnrollmentFailed", "EnrollmentWithdrawn", "NoShowRecorded"):
        refused("invalid_transition", ask, given(NOMINATED, CHECKED_IN, (done, {**IDS})))


def test_decision_refusals():
    refused("leave_not_found", decide_leave, given(NOMINATED, CHECKED_IN), session_date=DAY, approve=True,
            reason=None, today=ON, http=404)
    approved = given(NOMINATED, CHECKED_IN, *leave("2023-07-16", "LeaveApproved"))
    refused("leave_decided", decide_leave, approved, session_date=DAY, approve=False, reason="x", today=ON)
    pending = given(NOMINATED, CHECKED_IN, *leave("2023-07-16"))
    refused("reason_required", decide_leave, pending, session_date=DAY, approve=False, reason=None, today=ON,
            http=422)
    assert decide_leave(pending, session_date=DAY, approve=False, reason="关键环节", today=ON)[0][0] == "LeaveRejected"


def test_approved_leave_is_no_attendance_for_the_completion_share():
    """002 §4.1.3: approved leave excuses the absence but is not attendance (sessions_attended)."""
    assert d.sessions_attended(["present", "leave", "absent", "present"]) == 2
    # Given four sessions present and one on approved leave of five: 80 % meets the default share
    no_final = d.CompletionRules(final_assessment_min_hours=1000)
    four = given(NOMINATED, CHECKED_IN, *leave("2023-07-19", "LeaveApproved"),
                 *[session(day, "present") for day in range(15, 19)], session(19, "leave"))
    assert d.decide_complete(four, project=STARTED, today=ON, rules=no_final)
    # Given three present and two on approved leave: 60 %, under a province's 75 % share
    three = given(NOMINATED, CHECKED_IN, *leave("2023-07-18", "LeaveApproved"), *leave("2023-07-19", "LeaveApproved"),
                  *[session(day, "present") for day in range(15, 18)], session(18, "leave"), session(19, "leave"))
    # When completed, Then attendance_short, its own code
    refused("attendance_short", d.decide_complete, three, project=STARTED, today=ON,
            rules=replace(no_final, min_attendance_share=0.75))
    assert d.decide_complete(three, project=STARTED, today=ON, rules=replace(no_final, min_attendance_share=0.6))
