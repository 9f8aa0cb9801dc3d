"""The enrollment decider: one teacher's place in one project, from nomination (报送) through
check-in (报到), attendance and assessment to completion (结业), failure (不予结业) or no-show.

Pure: `evolve(state, type, data)` folds events; each `decide_*` takes the state, the command's
values and the facts it needs (the project, today's date) and returns [(event type, data)] or
raises `Refused`. The rules that span streams (quota, one 国培 a year, ...) are in nomination.py
and selection.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, NamedTuple

from shared.refusal import Refused

from .selection import DEFAULT_RULES, SelectionRules, bar_years

NOMINATED, CHECKED_IN, COMPLETED, FAILED, NO_SHOW, WITHDRAWN = (
    "nominated", "checked_in", "completed", "failed", "no_show", "withdrawn")
TERMINAL = frozenset({COMPLETED, FAILED, NO_SHOW, WITHDRAWN})
ATTENDANCE_STATUSES = ("present", "absent", "leave")
Events = list[tuple[str, dict[str, Any]]]
ASSESSMENT_KINDS = ("process", "final")


@dataclass(frozen=True)
class CompletionRules:
    # 002 §4.1.3 "90学时及以上的培训项目均设有结业考核环节": from this many hours a passed final
    # assessment is required to graduate.
    final_assessment_min_hours: float = 90
    # 002 §4.1.3 "三严…严肃请假制度…做好参训学员出勤…记录": attendance counts, but the seeds give no
    # share; this default is this system's until a province publishes its own (enrollment policy,
    # min_attendance_share). None: attendance is recorded but not judged.
    min_attendance_share: float | None = 0.8


@dataclass(frozen=True)
class ProjectFacts:
    project_id: str
    status: str  # drafted, plan_submitted, approved, open, started, closed, cancelled
    level: str
    category: str
    year: int
    hours: float
    hour_category: str
    host_id: str | None
    organizer_code: str
    starts_on: date
    ends_on: date
    cross_year: bool = False
    opened_on: date | None = None  # the project's notice: opened for selection (004 三(一) window)


_NONE: Mapping[str, Any] = MappingProxyType({})  # an empty default no state can change


class Enrollment(NamedTuple):
    """One enrollment's state, folded from its events by `evolve`. A named tuple, not a frozen
    dataclass: an attendance sheet evolves one state per row, and dataclasses.replace costs ~6 µs
    where a named tuple's _replace costs ~1.5 (15 % of an attendance import's Python, py-spy)."""

    enrollment_id: str | None = None
    project_id: str | None = None
    teacher_id: str | None = None
    region_code: str | None = None
    status: str | None = None  # None: the stream does not exist
    checked_in_on: str | None = None
    attendance: Mapping[str, tuple[str, float]] = _NONE  # session date → (status, hours)
    assessments: Mapping[str, bool] = _NONE  # kind → passed
    evaluated: bool = False
    excused: bool = False  # a no-show with a special reason, given at once or attached later (no bar)
    leaves: Mapping[str, str] = _NONE  # session date → requested, approved, rejected


INITIAL = Enrollment()

_STATUS_AFTER = {"EnrollmentWithdrawn": WITHDRAWN, "EnrollmentCompleted": COMPLETED,
                 "EnrollmentFailed": FAILED, "NoShowRecorded": NO_SHOW}
LEAVE_REQUESTED, LEAVE_APPROVED, LEAVE_REJECTED = "requested", "approved", "rejected"
_LEAVE_AFTER = {"LeaveRequested": LEAVE_REQUESTED, "LeaveApproved": LEAVE_APPROVED, "LeaveRejected": LEAVE_REJECTED}


def evolve(state: Enrollment, type_: str, data: dict[str, Any]) -> Enrollment:
    if type_ == "TeacherNominated":
        return state._replace(enrollment_id=data["enrollment_id"], project_id=data["project_id"],
                       teacher_id=data["teacher_id"], region_code=data["region_code"], status=NOMINATED)
    if type_ == "NomineeReplaced":
        return state._replace(teacher_id=data["teacher_id"])
    if type_ == "TeacherCheckedIn":
        return state._replace(status=CHECKED_IN, checked_in_on=data["checked_in_on"])
    if type_ == "AttendanceRecorded":  # a second record for the same date replaces the first
        return state._replace(attendance={**state.attendance, data["session_date"]: (data["status"], data["hours"])})
    if type_ == "AssessmentRecorded":  # likewise per kind: the latest result counts
        return state._replace(assessments={**state.assessments, data["kind"]: bool(data["passed"])})
    if type_ == "EvaluationSubmitted":
        return state._replace(evaluated=True)
    if type_ == "NoShowRecorded":
        return state._replace(status=NO_SHOW, excused=bool(data.get("special_reason")))
    if type_ == "NoShowExcused":
        return state._replace(excused=True)
    if type_ in _LEAVE_AFTER:  # a request again after a refusal replaces it
        return state._replace(leaves={**state.leaves, data["session_date"]: _LEAVE_AFTER[type_]})
    if type_ in _STATUS_AFTER:
        return state._replace(status=_STATUS_AFTER[type_])
    return state


def _ids(state: Enrollment) -> dict[str, Any]:
    return {"enrollment_id": state.enrollment_id, "project_id": state.project_id, "teacher_id": state.teacher_id}


def _before_check_in(state: Enrollment) -> None:
    if state.status == CHECKED_IN or state.checked_in_on is not None:
        raise Refused("already_checked_in", "the nominee has already checked in")
    if state.status != NOMINATED:
        raise Refused("invalid_transition", f"enrollment is {state.status}")


def _after_check_in(state: Enrollment) -> None:
    if state.status == NOMINATED:
        raise Refused("not_checked_in", "the teacher has not checked in")
    if state.status != CHECKED_IN:
        raise Refused("invalid_transition", f"enrollment is {state.status}")


def _project_in(project: ProjectFacts, statuses: tuple[str, ...], code: str) -> None:
    if project.status not in statuses:
        raise Refused(code, f"project is {project.status}; needs {' or '.join(statuses)}")


def decide_nominate(state: Enrollment, *, enrollment_id: str, teacher_id: str, region_code: str,
                    project: ProjectFacts, teacher_in_region: bool, has_quota: bool,
                    today: date, substitute: bool = False) -> Events:
    """`substitute`: filling a no-show's vacancy (缺额调整补充选派, 004 二(四)), which happens once
    the project has started, too."""
    if state.status is not None:
        raise Refused("invalid_transition", "enrollment already exists")
    _project_in(project, ("open", "started") if substitute else ("open",), "project_not_open")
    if not teacher_in_region:
        raise Refused("teacher_not_in_region", f"the teacher's school is not in region {region_code}", 422)
    if not has_quota:
        raise Refused("no_quota", f"region {region_code} has no quota in this project")
    return [("TeacherNominated", {
        "enrollment_id": enrollment_id, "project_id": project.project_id, "teacher_id": teacher_id,
        "region_code": region_code, "level": project.level, "category": project.category, "year": project.year,
        "nominated_on": today.isoformat(),
        # A cross-year project's place takes every year it spans (selection.national_years), and
        # its attendance may be continued by the category's next cross-year phase (is_category_repeat).
        **({"cross_year": True, "until_year": project.ends_on.year} if project.cross_year else {})})]


def decide_replace(state: Enrollment, *, teacher_id: str, teacher_in_region: bool,
                   project: ProjectFacts) -> Events:
    _before_check_in(state)
    _project_in(project, ("open", "started"), "project_not_open")
    if teacher_id == state.teacher_id:
        raise Refused("already_nominated", "that teacher already holds this enrollment")
    if not teacher_in_region:  # 换人 stays within the nominating region (DOMAIN.md)
        raise Refused("not_same_region", f"the new teacher's school is not in region {state.region_code}", 422)
    return [("NomineeReplaced", {
        "enrollment_id": state.enrollment_id, "project_id": state.project_id, "old_teacher_id": state.teacher_id,
        "teacher_id": teacher_id, "region_code": state.region_code})]


def decide_withdraw(state: Enrollment, *, reason: str, project: ProjectFacts) -> Events:
    _before_check_in(state)
    _project_in(project, ("open", "started"), "project_not_open")
    return [("EnrollmentWithdrawn", {**_ids(state), "region_code": state.region_code, "reason": reason})]


@dataclass(frozen=True)
class CheckInCode:
    """A verified check-in code (扫码报到) as the decider sees it: the session it was shown for,
    its nonce, and whether this enrollment already redeemed it."""

    project_id: str
    session_date: date
    nonce: str
    used_here: bool = False


def check_code_session(project: ProjectFacts, session_date: date) -> None:
    """A check-in code is shown at a session of a project that takes check-ins (open or started),
    on a day of its schedule."""
    _project_in(project, ("open", "started"), "project_not_open")
    if not project.starts_on <= session_date <= project.ends_on:
        raise Refused("session_out_of_range", f"the project runs {project.starts_on}..{project.ends_on}", 422)


def check_check_in_day(project: ProjectFacts, today: date) -> None:
    """报到 marks arrival at a training (DOMAIN.md "Check-in (报到) marks arrival; nominees who never
    check in are no-shows", 004 四.1): once the project's last day has passed there is nothing to
    arrive at, and a nominee who has not checked in by then is a no-show to record, not a late
    check-in. `today` is the Asia/Shanghai calendar day (shared/clock.py), as the project's dates are."""
    if today > project.ends_on:
        raise Refused("project_ended", f"the project ended on {project.ends_on}; check-in is closed")


def decide_check_in(state: Enrollment, *, project: ProjectFacts, today: date, code: CheckInCode | None = None
                    ) -> Events:
    """报到. With a code from the host's screen: the code must be this project's (`code_foreign`)
    and not one this enrollment already redeemed (`code_replayed`: a re-sent scan is told so)."""
    if code is not None:
        if code.project_id != state.project_id:
            raise Refused("code_foreign", "this check-in code is another project's", 403)
        if code.used_here:
            raise Refused("code_replayed", "this check-in code was already used for this enrollment")
    # Mobile clients retry: a check-in that already happened is a harmless no-op (no event).
    if state.checked_in_on is not None and state.status in (CHECKED_IN, COMPLETED, FAILED):
        return []
    if state.status != NOMINATED:
        raise Refused("invalid_transition", f"enrollment is {state.status}")
    _project_in(project, ("open", "started"), "project_not_open")
    check_check_in_day(project, today)
    via = {} if code is None else {"via": "code", "session_date": code.session_date.isoformat(),
                                    "code_nonce": code.nonce}
    return [("TeacherCheckedIn", {**_ids(state), "region_code": state.region_code, "host_id": project.host_id,
                                  "checked_in_on": today.isoformat(), **via})]


def decide_attendance(state: Enrollment, *, session_date: date, status: str, hours: float,
                      project: ProjectFacts) -> Events:
    _after_check_in(state)
    if status not in ATTENDANCE_STATUSES:
        raise Refused("invalid_status", f"status must be one of {', '.join(ATTENDANCE_STATUSES)}", 422)
    if not project.starts_on <= session_date <= project.ends_on:
        raise Refused("session_out_of_range", f"session date {session_date} is outside the project's dates "
                                              f"{project.starts_on}..{project.ends_on}", 422)
    check_leave_approved(state, session_date, status)
    return [("AttendanceRecorded", {**_ids(state), "session_date": session_date.isoformat(), "status": status,
                                    "hours": hours})]


def decide_assessment(state: Enrollment, *, kind: str, score: float | None, passed: bool) -> Events:
    _after_check_in(state)
    if kind not in ASSESSMENT_KINDS:
        raise Refused("invalid_kind", f"kind must be one of {', '.join(ASSESSMENT_KINDS)}", 422)
    return [("AssessmentRecorded", {**_ids(state), "kind": kind, "score": score, "passed": passed})]


def check_leave_approved(state: Enrollment, session_date: date, status: str) -> None:
    """002 §4.1.3 "三严…严肃请假制度": leave (请假) is requested and approved, not declared. A
    session recorded as `leave` needs that session's leave approved (domain/leave.py); without
    it the absence is an absence, and is recorded as one."""
    if status == "leave" and state.leaves.get(session_date.isoformat()) != LEAVE_APPROVED:
        raise Refused("leave_not_approved", f"no approved leave for the session of {session_date}; "
                                            "record it as absent, or approve a leave request first")


def sessions_attended(statuses: list[str]) -> int:
    """002 §4.1.3 "做好参训学员出勤…记录" and "严肃请假制度": the sessions that count as attended
    for the attendance share — those present. Approved leave excuses an absence (it is no
    truancy, and recorded as leave, not absent) but is not attendance: the training of that
    session was not received, so it stays in the share's denominator and not in its numerator.
    Counting approved leave as attended — or leaving it out of the count — would let leave
    approved freely carry a learner to completion past the share a province sets, against
    the strictness the seed asks of leave."""
    return sum(1 for status in statuses if status == "present")


def check_attendance_share(state: Enrollment, rules: CompletionRules) -> None:
    """002 §4.1.3 (三严): completion needs the recorded sessions attended (sessions_attended:
    present; approved leave is not attendance) at the policy's share; sessions not recorded are
    not judged, and none recorded judges nothing."""
    share, sessions = rules.min_attendance_share, list(state.attendance.values())
    if share is None or not sessions:
        return
    present = sessions_attended([status for status, _ in sessions])
    if present < share * len(sessions):
        raise Refused("attendance_short", f"attended {present} of {len(sessions)} recorded sessions; completion "
                                          f"needs at least {share:.0%}")


def decide_complete(state: Enrollment, *, project: ProjectFacts, today: date,
                    rules: CompletionRules = CompletionRules()) -> Events:
    _after_check_in(state)
    _project_in(project, ("started", "closed"), "project_not_started")
    # 004 §2.4: failing the process or the final assessment means 不予结业.
    if any(passed is False for passed in state.assessments.values()):
        raise Refused("assessment_failed", "a failed assessment does not graduate (004 §2.4)")
    if project.hours >= rules.final_assessment_min_hours and not state.assessments.get("final"):
        raise Refused("final_assessment_required", f"programs of {rules.final_assessment_min_hours:g} hours or "
                                                   "more need a passed final assessment (002 §4.1.3)")
    check_attendance_share(state, rules)
    return [("EnrollmentCompleted", {
        **_ids(state), "region_code": state.region_code, "host_id": project.host_id, "level": project.level,
        "year": project.year, "hours": project.hours, "hour_category": project.hour_category,
        "completed_on": today.isoformat()})]


def decide_fail(state: Enrollment, *, reason: str, project: ProjectFacts, today: date) -> Events:
    _after_check_in(state)
    _project_in(project, ("started", "closed"), "project_not_started")
    return [("EnrollmentFailed", {**_ids(state), "region_code": state.region_code, "host_id": project.host_id,
                                  "reason": reason, "failed_on": today.isoformat()})]


def decide_no_show(state: Enrollment, *, special_reason: bool, project: ProjectFacts,
                   rules: SelectionRules = DEFAULT_RULES, policy_label: str = "default") -> Events:
    """A nominee who never checked in (004 四.1), recorded once the project has started — also
    after it closed, so that nobody stays in the check-in denominator unaccounted for. Without a
    special reason a national no-show is barred (selection.bar_years). `rules`: the selection
    rules of the enrollment policy in force (domain/policy.py), named by `policy_label`."""
    _before_check_in(state)
    _project_in(project, ("started", "closed"), "project_not_started")
    bar = bar_years(project.level, project.year, special_reason, rules)
    return [("NoShowRecorded", {
        **_ids(state), "region_code": state.region_code, "special_reason": special_reason,
        "barred_from_year": bar[0] if bar else None, "barred_until_year": bar[1] if bar else None,
        "policy": policy_label})]


def decide_excuse_no_show(state: Enrollment, *, reason: str, today: date) -> Events:
    """004 §4.1 "无特殊情况…": a special reason attached to a no-show after the fact, by the
    nominating region: its own event (who, when, why), and it lifts the bar."""
    if state.status != NO_SHOW:
        raise Refused("not_no_show", f"enrollment is {state.status}, not a no-show")
    if state.excused:
        raise Refused("already_excused", "this no-show already has a special reason")
    if not reason.strip():
        raise Refused("reason_required", "a special reason needs its text", 422)
    return [("NoShowExcused", {**_ids(state), "region_code": state.region_code, "reason": reason,
                               "excused_on": today.isoformat()})]


def decide_evaluate(state: Enrollment, *, satisfied: bool, score: int, comment: str | None,
                    project: ProjectFacts) -> Events:
    if state.evaluated:
        raise Refused("already_evaluated", "this enrollment has already been evaluated")
    if state.checked_in_on is None or state.status not in (CHECKED_IN, COMPLETED, FAILED):
        raise Refused("not_checked_in", "only a teacher who checked in can evaluate the training")
    if not 1 <= score <= 5:
        raise Refused("invalid_score", "score must be 1–5", 422)
    return [("EvaluationSubmitted", {**_ids(state), "host_id": project.host_id, "satisfied": satisfied,
                                     "score": score, "comment": comment})]
