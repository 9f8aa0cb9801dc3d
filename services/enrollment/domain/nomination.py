"""Putting a teacher on a place: nomination (报送) and replacement (换人) as whole commands.

The enrollment stream's own rules are in enrollment.py (decide_nominate, decide_replace), the
national selection rules in selection.py (check_nominee); the two rules below span streams too.
The handlers read these facts under the locks guards.py orders, so each decision here holds
when the events are written. The order of the checks is the order refusals are reported in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from shared.refusal import Refused

from .enrollment import Enrollment, Events, ProjectFacts, decide_nominate, decide_replace
from .policy import DEFAULT_POLICY, EnrollmentPolicy, check_nomination_window
from .selection import NationalHistory, check_nominee


@dataclass(frozen=True)
class Quota:
    """A region's places in a project (参训指标) and how many its live nominations use."""

    places: int
    used: int


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
    if quota.used >= quota.places:
        raise Refused("quota_exhausted", f"region {region_code} has used all its places in this project")


def check_one_place_per_project(candidate: Candidate) -> None:
    """One live place per teacher and project: a second one would count one person twice against
    the region's quota (a rule of this service, not of the seeds)."""
    if candidate.in_project:
        raise Refused("already_nominated", "the teacher is already nominated for this project")


def decide_nomination(state: Enrollment, *, enrollment_id: str, teacher_id: str, region_code: str,
                      project: ProjectFacts, candidate: Candidate, quota: Quota | None, today: date,
                      policy: EnrollmentPolicy = DEFAULT_POLICY, vacancy: Vacancy | None = None) -> Events:
    """`policy`: the enrollment policy in force today for the project's organizer
    (policy.policy_in_force); the event names it. `vacancy`: a substitute for a no-show takes
    that place — past the nomination window and without a place of the quota of its own."""
    events = decide_nominate(state, enrollment_id=enrollment_id, teacher_id=teacher_id, region_code=region_code,
                             project=project, teacher_in_region=candidate.in_region, has_quota=quota is not None,
                             today=today, substitute=vacancy is not None)
    if vacancy is not None:
        check_vacancy(vacancy, project.project_id, region_code)
    else:
        check_nomination_window(project.level, project.opened_on, today, policy)
    check_nominee(project.level, project.category, project.year, project.cross_year, candidate.history,
                  policy.selection)
    check_one_place_per_project(candidate)
    if quota is not None and vacancy is None:  # no quota: decide_nominate refused it (no_quota)
        check_places_left(quota, region_code)
    if vacancy is not None:
        events = [(t, {**d, "substitute_for": vacancy.enrollment_id}) for t, d in events]
    return _naming(events, policy)


def decide_replacement(state: Enrollment, *, teacher_id: str, project: ProjectFacts, candidate: Candidate,
                       policy: EnrollmentPolicy = DEFAULT_POLICY) -> Events:
    """换人 keeps the place and its quota; the new teacher must pass the selection rules. No
    nomination window: a replacement may come after it (policy.check_nomination_window)."""
    events = decide_replace(state, teacher_id=teacher_id, teacher_in_region=candidate.in_region, project=project)
    check_nominee(project.level, project.category, project.year, project.cross_year, candidate.history,
                  policy.selection)
    check_one_place_per_project(candidate)
    return _naming(events, policy)


def _naming(events: Events, policy: EnrollmentPolicy) -> Events:
    return [(t, {**d, "policy": policy.label}) for t, d in events]
