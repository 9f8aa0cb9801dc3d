"""Putting a teacher on a place: nomination (报送) and replacement (换人) as whole commands.

The enrollment stream's own rules are in enrollment.py (decide_nominate, decide_replace), the
national selection rules in selection.py (check_nominee); the two rules below span streams too.
The handlers read these facts under the locks guards.py orders, so each decision here holds
when the events are written. The order of the checks is the order refusals are reported in.

A nomination is judged rule by rule (`assess_nomination`: one Verdict per rule, every rule run,
in the order above) and refused with the first failing verdict (`decide_nomination`). The
eligibility preview (api/eligibility.py) shows the same verdicts without nominating: one list of
checks decides both, so a preview and the nomination made on the same facts cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from shared.refusal import Refused

from .enrollment import INITIAL, Enrollment, Events, ProjectFacts, decide_nominate, decide_replace
from .policy import DEFAULT_POLICY, EnrollmentPolicy, check_nomination_window, nomination_closes_on
from .selection import NationalHistory, check_national_history, check_nominee, check_not_barred, national_years


@dataclass(frozen=True)
class Quota:
    """A region's places in a project (参训指标) and how many its live nominations use; a city's
    `split`: the places it gave its counties (004 §2.2, quota_split.py), no longer its own."""

    places: int
    used: int
    split: int = 0

    @property
    def left(self) -> int:
        return max(self.places - self.split - self.used, 0)


@dataclass(frozen=True)
class Vacancy:
    """The place a substitute nomination names (缺额调整补充选派, 004 二(四)): the enrollment it
    was, as read from the enrollments read model, and whether a substitute already took it."""

    enrollment_id: str
    project_id: str | None  # None: no such enrollment
    region_code: str | None
    status: str | None
    filled: bool


def check_vacancy(vacancy: Vacancy, project_id: str, region_code: str) -> None:
    """004 §2.4 "对缺额人员及时调整补充选派": a region fills the place of its own nominee who did
    not come (a recorded no-show) of the same project, once."""
    if vacancy.project_id != project_id or vacancy.region_code != region_code or vacancy.status != "no_show":
        raise Refused("not_a_vacancy", f"enrollment {vacancy.enrollment_id} is not a no-show of this project and "
                                       f"region {region_code}")
    if vacancy.filled:
        raise Refused("vacancy_filled", f"the place of {vacancy.enrollment_id} was already filled")


@dataclass(frozen=True)
class Candidate:
    """The teacher to be put on a place, as read under the teacher's lock."""

    in_region: bool  # the teacher's school lies in the nominating region
    history: NationalHistory = field(default_factory=NationalHistory)
    in_project: bool = False  # already holds a live place in this project


def check_places_left(quota: Quota, region_code: str) -> None:
    """004 §3.1: a region nominates within its quota (places freed by a withdrawal count again)."""
    if quota.left <= 0:
        raise Refused("quota_exhausted", f"region {region_code} has used all its places in this project")


def check_one_place_per_project(candidate: Candidate) -> None:
    """One live place per teacher and project: a second one would count one person twice against
    the region's quota (a rule of this service, not of the seeds)."""
    if candidate.in_project:
        raise Refused("already_nominated", "the teacher is already nominated for this project")


# The rules a nomination is judged by, in the order its refusals are reported, and the seed
# section each comes from (None: a rule of this service). The functions named in
# docs/architecture.md decide them; this is the table the verdicts name them by.
RULES: tuple[tuple[str, str | None], ...] = (
    ("project_open", None),  # decide_nominate: only a project open for selection (DOMAIN.md lifecycle)
    ("teacher_in_region", "004 §3.1"),  # decide_nominate: a region nominates its own teachers
    ("quota", "004 §3.1"),  # decide_nominate: the region has places in the project
    ("vacancy", "004 §2.4"),  # check_vacancy: a substitute fills its region's no-show, once
    ("window", "004 §3.1"),  # policy.check_nomination_window: 三(一), 20 days after the notice
    ("bar", "004 §4.1"),  # selection.check_not_barred
    ("category_repeat", "004 §3.1"),  # selection.check_national_history
    ("national_limit", "004 §3.1"),  # selection.check_national_history
    ("already_nominated", None),  # check_one_place_per_project
    ("places_left", "004 §3.1"),  # check_places_left
)
SOURCES = dict(RULES)


@dataclass(frozen=True)
class Verdict:
    """One rule's judgement of a nomination: passed, or the refusal the nomination would give.
    `facts`: the figures the rule looked at (places and used, the window's last day, ...)."""

    rule: str
    refusal: Refused | None
    detail: str
    facts: Mapping[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.refusal is None

    @property
    def code(self) -> str | None:
        return None if self.refusal is None else self.refusal.code

    @property
    def source(self) -> str | None:
        return SOURCES[self.rule]


def _judge(rule: str, check: Callable[[], object], passed: str, **facts: object) -> Verdict:
    try:
        check()
    except Refused as refusal:
        return Verdict(rule, refusal, refusal.message, facts)
    return Verdict(rule, None, passed, facts)


def _bar_holds(year: int, bar: tuple[int, int]) -> bool:
    """Whether one bar holds against a nomination in `year`, as check_not_barred judges it."""
    try:
        check_not_barred(year, NationalHistory(bars=(bar,)))
    except Refused:
        return True
    return False


def _pass() -> None:
    return None


def _only(applies: bool, check: Callable[[], None]) -> Callable[[], None]:
    """The check where the rule applies (the national rules: to national projects only)."""
    return check if applies else _pass


def _gate(project: ProjectFacts, region_code: str, today: date, substitute: bool, *, open_for: bool = False,
          in_region: bool = True, has_quota: bool = True) -> None:
    """enrollment.decide_nominate's own checks of a new enrollment, one at a time: every fact but
    the one a verdict is about is set to pass (`open_for`: judge the teacher or the quota as if
    the project were open), so only that one can refuse."""
    decide_nominate(INITIAL, enrollment_id="", teacher_id="", region_code=region_code,
                    project=replace(project, status="open") if open_for else project,
                    teacher_in_region=in_region, has_quota=has_quota, today=today, substitute=substitute)


def assess_nomination(*, region_code: str, project: ProjectFacts, candidate: Candidate, quota: Quota | None,
                      today: date, policy: EnrollmentPolicy = DEFAULT_POLICY,
                      vacancy: Vacancy | None = None) -> list[Verdict]:
    """Every rule of a nomination judged on the same facts, in the order of RULES; nothing
    stops at a refusal. The nomination is allowed iff every verdict is ok. `vacancy`: a
    substitute's (decide_nomination): judged on the vacancy instead of the window and the
    places left."""
    rules, history, year = policy.selection, candidate.history, project.year
    years = national_years(year, project.ends_on.year, project.cross_year)
    national = rules.is_national(project.level)
    not_national = f"a {project.level} project: the national (国培) rules do not apply"
    substitute = vacancy is not None
    quota_verdict = _judge("quota", lambda: _gate(project, region_code, today, substitute, open_for=True,
                                                  has_quota=quota is not None),
                           f"region {region_code} has places in this project",
                           places=quota.places if quota else None)
    # The bars in force this year, each judged by check_not_barred on its own.
    until = max((bar[1] for bar in history.bars if _bar_holds(year, bar)), default=None)
    closes_on = nomination_closes_on(project.level, project.opened_on, policy)
    verdicts = [
        _judge("project_open", lambda: _gate(project, region_code, today, substitute),
               "the project is open for selection" if not substitute else "the project takes substitutes",
               status=project.status),
        _judge("teacher_in_region", lambda: _gate(project, region_code, today, substitute, open_for=True,
                                                  in_region=candidate.in_region),
               f"the teacher's school is in region {region_code}", region_code=region_code),
        quota_verdict,
        _judge("vacancy", _pass if vacancy is None else lambda: check_vacancy(vacancy, project.project_id,
                                                                               region_code),
               "not a substitute nomination" if vacancy is None else f"fills the place of {vacancy.enrollment_id}",
               substitute_for=vacancy.enrollment_id if vacancy else None),
        _judge("window", _only(not substitute, lambda: check_nomination_window(project.level, project.opened_on,
                                                                               today, policy)),
               "a substitute passes after the window" if substitute else
               "no nomination window" if closes_on is None else f"nominations are open until {closes_on}",
               opened_on=project.opened_on, closes_on=closes_on, days=policy.nomination_window_days),
        _judge("bar", _only(national, lambda: check_not_barred(year, history)),
               not_national if not national else f"not barred from national projects in {year}",
               until_year=until if national else None),
        _judge("category_repeat",
               _only(national, lambda: check_national_history(project.category, year, project.cross_year,
                                                              replace(history, slot_years=frozenset()), rules)),
               not_national if not national else f"not a repeat of national category {project.category!r} "
                                                 "(a cross-year project continuing cross-year training exempt)",
               category=project.category, cross_year=project.cross_year),
        _judge("national_limit",
               _only(national, lambda: check_national_history(project.category, year, project.cross_year,
                                                              replace(history, attended_categories=frozenset()),
                                                              rules, project.ends_on.year)),
               not_national if not national else
               f"no national project held in {years[0] if len(years) == 1 else f'{years[0]}–{years[-1]}'}",
               year=year, years=list(years)),
        _judge("already_nominated", lambda: check_one_place_per_project(candidate),
               "no place in this project yet"),
    ]
    if quota is None:  # no places at all: the nomination's answer is the quota's
        verdicts.append(Verdict("places_left", quota_verdict.refusal, quota_verdict.detail,
                                {"places": 0, "used": 0, "left": 0}))
    elif substitute:
        verdicts.append(Verdict("places_left", None, "a substitute takes the no-show's place, not one of the quota",
                                {"places": quota.places, "used": quota.used, "left": quota.left}))
    else:
        verdicts.append(_judge("places_left", lambda: check_places_left(quota, region_code),
                               f"{quota.left} of {quota.places} places left"
                               + (f" ({quota.split} given to counties)" if quota.split else ""),
                               places=quota.places, used=quota.used, left=quota.left))
    return verdicts


def first_refusal(verdicts: list[Verdict]) -> Refused | None:
    return next((v.refusal for v in verdicts if v.refusal is not None), None)


def decide_nomination(state: Enrollment, *, enrollment_id: str, teacher_id: str, region_code: str,
                      project: ProjectFacts, candidate: Candidate, quota: Quota | None, today: date,
                      policy: EnrollmentPolicy = DEFAULT_POLICY, vacancy: Vacancy | None = None) -> Events:
    """`policy`: the enrollment policy in force today for the project's organizer
    (policy.policy_in_force); the event names it. `vacancy`: a substitute for a no-show takes
    that place — past the nomination window and without a place of the quota of its own.
    Refused with the first failing verdict of assess_nomination."""
    refusal = first_refusal(assess_nomination(region_code=region_code, project=project, candidate=candidate,
                                              quota=quota, today=today, policy=policy, vacancy=vacancy))
    if refusal is not None:
        raise refusal
    events = decide_nominate(state, enrollment_id=enrollment_id, teacher_id=teacher_id, region_code=region_code,
                             project=project, teacher_in_region=candidate.in_region, has_quota=quota is not None,
                             today=today, substitute=vacancy is not None)
    if vacancy is not None:
        events = [(t, {**d, "substitute_for": vacancy.enrollment_id}) for t, d in events]
    return _naming(events, policy)


def decide_replacement(state: Enrollment, *, teacher_id: str, project: ProjectFacts, candidate: Candidate,
                       policy: EnrollmentPolicy = DEFAULT_POLICY) -> Events:
    """换人 keeps the place and its quota; the new teacher must pass the selection rules. No
    nomination window: a replacement may come after it (policy.check_nomination_window)."""
    events = decide_replace(state, teacher_id=teacher_id, teacher_in_region=candidate.in_region, project=project)
    check_nominee(project.level, project.category, project.year, project.cross_year, candidate.history,
                  policy.selection, project.ends_on.year)
    check_one_place_per_project(candidate)
    return _naming(events, policy)


def _naming(events: Events, policy: EnrollmentPolicy) -> Events:
    return [(t, {**d, "policy": policy.label}) for t, d in events]
