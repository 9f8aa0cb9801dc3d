"""The enrollment decider and the selection rules, in Given events / When command / Then events
form. Pure: no database, no clock (today is a parameter)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.enrollment.domain import enrollment as d
from services.enrollment.domain.selection import (
    NationalHistory,
    SelectionRules,
    bar_years,
    barred_until,
    check_nominee,
    national_years,
)
from shared.refusal import Refused

TODAY = date(2023, 7, 10)
E, P, T, T2, H = "e-1", "p-1", "t-1", "t-2", "h-1"
PROJECT = d.ProjectFacts(project_id=P, status="open", level="national", category="农村骨干教师分层分类培训",
                         year=2023, hours=90, hour_category="centralized", host_id=H, organizer_code="610000",
                         starts_on=date(2023, 7, 15), ends_on=date(2023, 7, 30))
STARTED = replace(PROJECT, status="started")
IDS = {"enrollment_id": E, "project_id": P, "teacher_id": T}
NOMINATED = ("TeacherNominated", {**IDS, "region_code": "610102", "level": "national", "category": PROJECT.category,
                                  "year": 2023, "nominated_on": "2023-07-01"})
CHECKED_IN = ("TeacherCheckedIn", {**IDS, "region_code": "610102", "host_id": H, "checked_in_on": "2023-07-15"})


def given(*events: tuple[str, dict]) -> d.Enrollment:
    state = d.INITIAL
    for type_, data in events:
        state = d.evolve(state, type_, data)
    return state


def refused(code: str, fn, *args, http: int = 409, **kwargs) -> None:
    with pytest.raises(Refused) as exc:
        fn(*args, **kwargs)
    assert (exc.value.code, exc.value.status) == (code, http)


def assessed(kind: str, passed: bool) -> tuple[str, dict]:
    return ("AssessmentRecorded", {**IDS, "kind": kind, "score": 80 if passed else 40, "passed": passed})


# Nomination (报送)

def nominate(state=d.INITIAL, project=PROJECT, in_region=True, quota=True):
    return d.decide_nominate(state, enrollment_id=E, teacher_id=T, region_code="610102", project=project,
                             teacher_in_region=in_region, has_quota=quota, today=TODAY)


def test_nominate_records_the_project_facts_the_selection_rules_need():
    assert nominate() == [("TeacherNominated", {**IDS, "region_code": "610102", "level": "national",
                                                "category": PROJECT.category, "year": 2023,
                                                "nominated_on": "2023-07-10"})]


@pytest.mark.parametrize("status", ["drafted", "plan_submitted", "approved", "started", "closed", "cancelled"])
def test_nominate_needs_an_open_project(status):
    refused("project_not_open", nominate, project=replace(PROJECT, status=status))


def test_nominate_refuses_a_teacher_outside_the_region_and_a_region_without_quota():
    refused("teacher_not_in_region", nominate, in_region=False, http=422)
    refused("no_quota", nominate, quota=False)
    refused("invalid_transition", nominate, state=given(NOMINATED))


# Selection rules (004 §3.1, §4.1)

def test_national_limit_category_repeat_and_bars():
    cat = PROJECT.category
    check_nominee("national", cat, 2023, False, NationalHistory())  # a clean record passes
    with pytest.raises(Refused, match="national_limit"):
        check_nominee("national", cat, 2023, False, NationalHistory(slot_years=frozenset({2023})))
    check_nominee("national", cat, 2024, False, NationalHistory(slot_years=frozenset({2023})))
    with pytest.raises(Refused, match="category_repeat"):
        check_nominee("national", cat, 2024, False, NationalHistory(attended_categories=frozenset({cat})))
    check_nominee("national", "其他类别", 2024, False, NationalHistory(attended_categories=frozenset({cat})))
    with pytest.raises(Refused, match="barred"):
        check_nominee("national", cat, 2025, False, NationalHistory(bars=((2023, 2025),)))
    check_nominee("national", cat, 2026, False, NationalHistory(bars=((2023, 2025),)))


def test_cross_year_exemption_is_for_continuing_cross_year_training_only():
    """004 §3.1 "除实行跨年度培训的项目外,凡参加过'国培计划'同类项目的学员不得重复选派" (issue 20)."""
    # Given a teacher who attended a cross-year national project of category c (its first phase)
    continuing = NationalHistory(attended_categories=frozenset({"c"}), continuing_categories=frozenset({"c"}),
                                 slot_years=frozenset({2023}))
    # When nominated to a cross-year project of c from 2024, Then it continues that training: no repeat
    check_nominee("national", "c", 2024, True, continuing, ends_year=2025)
    # ... but a single-year project of c would repeat the category
    refused("category_repeat", check_nominee, "national", "c", 2024, False, continuing)
    # ... and a province without the exception refuses the cross-year one too
    refused("category_repeat", check_nominee, "national", "c", 2024, True, continuing,
            SelectionRules(cross_year_exempt_from_repeat=False), ends_year=2025)
    # Given a teacher who attended a single-year national project of c
    single = NationalHistory(attended_categories=frozenset({"c"}), slot_years=frozenset({2023}))
    # When nominated to a cross-year project of c, Then it is a repeat (the wider reading is not taken)
    refused("category_repeat", check_nominee, "national", "c", 2024, True, single, ends_year=2025)
    # ... and so is one who attended c both ways (continuing_categories holds only all-cross-year ones)
    both = replace(single, continuing_categories=frozenset())
    refused("category_repeat", check_nominee, "national", "c", 2024, True, both, ends_year=2025)
    # The year's limit holds for cross-year projects too
    refused("national_limit", check_nominee, "national", "d", 2023, True, continuing, ends_year=2024)


def test_a_cross_year_project_takes_every_year_it_spans():
    """004 §3.1 "年度内参加国培项目不超过1项" with §3.2's cross-year projects (issue 20)."""
    assert list(national_years(2023, 2024, cross_year=True)) == [2023, 2024]
    assert list(national_years(2023, 2023, cross_year=True)) == [2023]
    assert list(national_years(2023, 2024, cross_year=False)) == [2023]
    # Given a teacher holding a 2023–2024 cross-year place (slots in 2023 and 2024)
    held = NationalHistory(slot_years=frozenset({2023, 2024}))
    # When nominated to a 2024 national project, Then national_limit names 2024
    with pytest.raises(Refused, match="national_limit.*2024"):
        check_nominee("national", "c", 2024, False, held)
    check_nominee("national", "c", 2025, False, held)
    # Given a teacher holding a 2024 place, When nominated to a 2023–2024 cross-year project: refused
    with pytest.raises(Refused, match="national_limit.*2024"):
        check_nominee("national", "c", 2023, True, NationalHistory(slot_years=frozenset({2024})), ends_year=2024)


def test_the_rules_apply_to_national_projects_only():
    history = NationalHistory(slot_years=frozenset({2023}), attended_categories=frozenset({"c"}),
                              bars=((2023, 2025),))
    check_nominee("provincial", "c", 2023, False, history)


def test_a_no_show_bar_covers_the_three_years_after_the_projects_year():
    # 004 四.1 "三年内不得再次参加": again = after the year missed (issue 20 read it wrong before).
    assert bar_years("national", 2023, special_reason=False) == (2024, 2026)
    assert barred_until("national", 2023, special_reason=False) == 2026
    assert barred_until("national", 2023, special_reason=True) is None
    assert barred_until("provincial", 2023, special_reason=False) is None
    assert bar_years("national", 2023, False, SelectionRules(bar_years=2)) == (2024, 2025)


# Replacement (换人) and withdrawal

def test_replace_moves_the_place_to_another_teacher_of_the_region():
    assert d.decide_replace(given(NOMINATED), teacher_id=T2, teacher_in_region=True, project=PROJECT) == [
        ("NomineeReplaced", {**IDS, "old_teacher_id": T, "teacher_id": T2, "region_code": "610102"})]
    assert given(NOMINATED, ("NomineeReplaced", {**IDS, "old_teacher_id": T, "teacher_id": T2})).teacher_id == T2


def test_replace_refusals():
    state = given(NOMINATED)
    refused("not_same_region", d.decide_replace, state, teacher_id=T2, teacher_in_region=False, project=PROJECT,
            http=422)
    refused("already_nominated", d.decide_replace, state, teacher_id=T, teacher_in_region=True, project=PROJECT)
    refused("already_checked_in", d.decide_replace, given(NOMINATED, CHECKED_IN), teacher_id=T2,
            teacher_in_region=True, project=PROJECT)
    refused("project_not_open", d.decide_replace, state, teacher_id=T2, teacher_in_region=True,
            project=replace(PROJECT, status="closed"))
    withdrawn = given(NOMINATED, ("EnrollmentWithdrawn", {**IDS, "reason": "x"}))
    refused("invalid_transition", d.decide_replace, withdrawn, teacher_id=T2, teacher_in_region=True, project=PROJECT)


def test_withdraw_before_check_in_only():
    assert d.decide_withdraw(given(NOMINATED), reason="病假", project=PROJECT) == [
        ("EnrollmentWithdrawn", {**IDS, "region_code": "610102", "reason": "病假"})]
    refused("already_checked_in", d.decide_withdraw, given(NOMINATED, CHECKED_IN), reason="x", project=STARTED)
    withdrawn = given(NOMINATED, ("EnrollmentWithdrawn", {**IDS, "reason": "x"}))
    assert withdrawn.status == d.WITHDRAWN
    refused("invalid_transition", d.decide_withdraw, withdrawn, reason="x", project=PROJECT)


# Check-in (报到)

def test_check_in_then_a_repeat_is_a_no_op():
    assert d.decide_check_in(given(NOMINATED), project=STARTED, today=date(2023, 7, 15)) == [CHECKED_IN]
    assert d.decide_check_in(given(NOMINATED, CHECKED_IN), project=STARTED, today=TODAY) == []
    completed = given(NOMINATED, CHECKED_IN, ("EnrollmentCompleted", {**IDS}))
    assert d.decide_check_in(completed, project=STARTED, today=TODAY) == []


def test_check_in_refusals():
    refused("project_not_open", d.decide_check_in, given(NOMINATED), project=replace(PROJECT, status="closed"),
            today=TODAY)
    refused("invalid_transition", d.decide_check_in, given(NOMINATED, ("NoShowRecorded", {**IDS})), project=STARTED,
            today=TODAY)


def test_check_in_is_refused_after_the_projects_last_day():
    """Check-in (报到) marks arrival (DOMAIN.md; 004 四.1): after the last day there is none."""
    # Given a nominee of a project running 15–30 July 2023
    state = given(NOMINATED)
    # When checking in on its last day, Then TeacherCheckedIn; before its first day too
    assert d.decide_check_in(state, project=STARTED, today=date(2023, 7, 30))[0][0] == "TeacherCheckedIn"
    assert d.decide_check_in(state, project=STARTED, today=date(2023, 7, 10))
    # When checking in the day after, Then project_ended, with the code as with any other way in
    refused("project_ended", d.decide_check_in, state, project=STARTED, today=date(2023, 7, 31))
    code = d.CheckInCode(project_id="p-1", session_date=date(2023, 7, 30), nonce="n")
    with pytest.raises(Refused, match="project_ended"):
        d.decide_check_in(state, project=STARTED, today=date(2023, 7, 31), code=code)
    # A repeated check-in of one who did check in stays a harmless no-op after the end
    assert d.decide_check_in(given(NOMINATED, CHECKED_IN), project=STARTED, today=date(2023, 8, 5)) == []


# Attendance and assessment

def leave(day: str, *decisions: str) -> list[tuple[str, dict]]:
    """A leave request for the session of `day` (002 §4.1.3), then its decisions in turn."""
    asked = ("LeaveRequested", {**IDS, "session_date": day, "reason": "家中有事", "requested_by": "teacher",
                                "requested_on": "2023-07-14"})
    return [asked, *[(t, {**IDS, "session_date": day, "reason": None, "decided_on": "2023-07-15"})
                     for t in decisions]]


def test_attendance_after_check_in_within_the_projects_dates_and_the_latest_wins():
    state = given(NOMINATED, CHECKED_IN, *leave("2023-07-16", "LeaveApproved"))
    [(type_, data)] = d.decide_attendance(state, session_date=date(2023, 7, 16), status="leave", hours=0,
                                          project=STARTED)
    assert (type_, data) == ("AttendanceRecorded", {**IDS, "session_date": "2023-07-16", "status": "leave",
                                                    "hours": 0})
    again = {**data, "status": "present", "hours": 6}
    assert given(NOMINATED, CHECKED_IN, (type_, data), (type_, again)).attendance == {"2023-07-16": ("present", 6)}


def test_attendance_refusals():
    refused("not_checked_in", d.decide_attendance, given(NOMINATED), session_date=date(2023, 7, 16),
            status="present", hours=6, project=STARTED)
    refused("session_out_of_range", d.decide_attendance, given(NOMINATED, CHECKED_IN),
            session_date=date(2023, 7, 31), status="present", hours=6, project=STARTED, http=422)
    refused("invalid_status", d.decide_attendance, given(NOMINATED, CHECKED_IN), session_date=date(2023, 7, 16),
            status="late", hours=6, project=STARTED, http=422)
    done = given(NOMINATED, CHECKED_IN, ("EnrollmentFailed", {**IDS}))
    refused("invalid_transition", d.decide_attendance, done, session_date=date(2023, 7, 16), status="present",
            hours=6, project=STARTED)


def test_assessment_after_check_in():
    assert d.decide_assessment(given(NOMINATED, CHECKED_IN), kind="process", score=88.5, passed=True) == [
        ("AssessmentRecorded", {**IDS, "kind": "process", "score": 88.5, "passed": True})]
    refused("not_checked_in", d.decide_assessment, given(NOMINATED), kind="final", score=None, passed=True)
    refused("invalid_kind", d.decide_assessment, given(NOMINATED, CHECKED_IN), kind="oral", score=1, passed=True,
            http=422)


# Completion (结业), failure (不予结业), no-show

def test_complete_awards_the_projects_hours():
    state = given(NOMINATED, CHECKED_IN, assessed("process", True), assessed("final", True))
    assert d.decide_complete(state, project=STARTED, today=date(2023, 7, 30)) == [("EnrollmentCompleted", {
        **IDS, "region_code": "610102", "host_id": H, "level": "national", "year": 2023, "hours": 90,
        "hour_category": "centralized", "completed_on": "2023-07-30"})]
    assert d.decide_complete(state, project=replace(PROJECT, status="closed"), today=TODAY)


def test_complete_refusals():
    ok = (NOMINATED, CHECKED_IN)
    refused("assessment_failed", d.decide_complete, given(*ok, assessed("process", False), assessed("final", True)),
            project=STARTED, today=TODAY)
    refused("assessment_failed", d.decide_complete, given(*ok, assessed("final", False)), project=STARTED, today=TODAY)
    refused("final_assessment_required", d.decide_complete, given(*ok, assessed("process", True)), project=STARTED,
            today=TODAY)
    refused("project_not_started", d.decide_complete, given(*ok, assessed("final", True)), project=PROJECT,
            today=TODAY)
    refused("not_checked_in", d.decide_complete, given(NOMINATED), project=STARTED, today=TODAY)
    refused("invalid_transition", d.decide_complete, given(*ok, ("EnrollmentCompleted", {**IDS})), project=STARTED,
            today=TODAY)


def test_short_programs_graduate_without_a_final_assessment_and_the_threshold_is_data():
    state = given(NOMINATED, CHECKED_IN)
    assert d.decide_complete(state, project=replace(STARTED, hours=60), today=TODAY)
    assert d.decide_complete(state, project=STARTED, today=TODAY, rules=d.CompletionRules(120))


def test_fail_after_check_in_while_the_project_runs():
    assert d.decide_fail(given(NOMINATED, CHECKED_IN), reason="缺勤超过规定", project=STARTED, today=TODAY) == [
        ("EnrollmentFailed", {**IDS, "region_code": "610102", "host_id": H, "reason": "缺勤超过规定",
                              "failed_on": "2023-07-10"})]
    refused("not_checked_in", d.decide_fail, given(NOMINATED), reason="x", project=STARTED, today=TODAY)
    refused("project_not_started", d.decide_fail, given(NOMINATED, CHECKED_IN), reason="x", project=PROJECT,
            today=TODAY)


@pytest.mark.parametrize(("level", "special", "bar"), [("national", False, (2024, 2026)), ("national", True, None),
                                                       ("provincial", False, None)])
def test_no_show_bars_national_no_shows_without_a_special_reason(level, special, bar):
    # 004 四.1 三年内: the three years after the 2023 project missed (issue 20: not 2023–2025).
    [(type_, data)] = d.decide_no_show(given(NOMINATED), special_reason=special,
                                       project=replace(STARTED, level=level))
    first, last = bar or (None, None)
    assert (type_, data) == ("NoShowRecorded", {**IDS, "region_code": "610102", "special_reason": special,
                                                "barred_from_year": first, "barred_until_year": last,
                                                "policy": "default"})


def test_a_no_show_can_be_recorded_after_the_project_closed():
    # Else a nominee who never came stays in the check-in denominator and escapes the bar.
    closed = replace(STARTED, status="closed")
    [(type_, data)] = d.decide_no_show(given(NOMINATED), special_reason=False, project=closed)
    assert (type_, data["barred_until_year"]) == ("NoShowRecorded", 2026)


def test_a_special_reason_attached_later_is_its_own_event_once():
    no_show = given(NOMINATED, ("NoShowRecorded", {**IDS, "special_reason": False}))
    assert d.decide_excuse_no_show(no_show, reason="住院治疗", today=TODAY) == [
        ("NoShowExcused", {**IDS, "region_code": "610102", "reason": "住院治疗", "excused_on": TODAY.isoformat()})]
    excused = d.evolve(no_show, *d.decide_excuse_no_show(no_show, reason="住院治疗", today=TODAY)[0])
    assert excused.excused
    refused("already_excused", d.decide_excuse_no_show, excused, reason="again", today=TODAY)
    refused("already_excused", d.decide_excuse_no_show,
            given(NOMINATED, ("NoShowRecorded", {**IDS, "special_reason": True})), reason="x", today=TODAY)
    refused("not_no_show", d.decide_excuse_no_show, given(NOMINATED), reason="x", today=TODAY)
    refused("reason_required", d.decide_excuse_no_show, no_show, reason="  ", today=TODAY, http=422)


def test_no_show_refusals():
    refused("already_checked_in", d.decide_no_show, given(NOMINATED, CHECKED_IN), special_reason=False,
            project=STARTED)
    refused("project_not_started", d.decide_no_show, given(NOMINATED), special_reason=False, project=PROJECT)
    refused("invalid_transition", d.decide_no_show, given(NOMINATED, ("NoShowRecorded", {**IDS})),
            special_reason=False, project=STARTED)


# Evaluation

def test_evaluation_once_after_check_in():
    state = given(NOMINATED, CHECKED_IN, ("EnrollmentCompleted", {**IDS}))
    events = d.decide_evaluate(state, satisfied=True, score=5, comment="很好", project=STARTED)
    assert events == [("EvaluationSubmitted", {**IDS, "host_id": H, "satisfied": True, "score": 5, "comment": "很好"})]
    refused("already_evaluated", d.decide_evaluate, given(NOMINATED, CHECKED_IN, *events), satisfied=True, score=5,
            comment=None, project=STARTED)
    refused("not_checked_in", d.decide_evaluate, given(NOMINATED), satisfied=True, score=5, comment=None,
            project=STARTED)
    refused("invalid_score", d.decide_evaluate, state, satisfied=True, score=6, comment=None, project=STARTED,
            http=422)


def session(day: int, status: str) -> tuple[str, dict]:
    return ("AttendanceRecorded", {**IDS, "session_date": f"2023-07-{day:02d}", "status": status,
                                   "hours": 6 if status == "present" else 0})


def test_completion_needs_the_recorded_sessions_attended_at_the_policys_share():
    # Issue 20, 002 §4.1.3 三严: given five recorded absences of five sessions, completion is refused.
    absent = given(NOMINATED, CHECKED_IN, *[session(day, "absent") for day in range(15, 20)])
    refused("attendance_short", d.decide_complete, absent, project=STARTED, today=TODAY,
            rules=d.CompletionRules(final_assessment_min_hours=1000))
    # Four present of five meets the default 80 %; leave is not presence; no record judges nothing.
    four = given(NOMINATED, CHECKED_IN, *[session(day, "present") for day in range(15, 19)], session(19, "leave"))
    no_final = d.CompletionRules(final_assessment_min_hours=1000)
    assert d.decide_complete(four, project=STARTED, today=TODAY, rules=no_final)
    three = given(NOMINATED, CHECKED_IN, *[session(day, "present") for day in range(15, 18)], session(18, "leave"),
                  session(19, "absent"))
    refused("attendance_short", d.decide_complete, three, project=STARTED, today=TODAY,
            rules=d.CompletionRules(final_assessment_min_hours=1000))
    # A province's own share decides instead, or none at all.
    for share in (0.6, None):
        assert d.decide_complete(three, project=STARTED, today=TODAY,
                                 rules=d.CompletionRules(final_assessment_min_hours=1000, min_attendance_share=share))
    assert d.decide_complete(given(NOMINATED, CHECKED_IN), project=STARTED, today=TODAY,
                             rules=d.CompletionRules(final_assessment_min_hours=1000))
