"""Who may act on what, where the answer needs loaded facts (the enrollment's region, the
project's host or organizer). Pure checks over the principal; a route has already checked the
role, which needs no facts (shared.auth.require_role)."""

from __future__ import annotations

from services.enrollment.domain.enrollment import Enrollment, ProjectFacts
from services.enrollment.domain.project import DraftProject
from services.enrollment.domain.project_refs import check_reviewer
from shared.auth import Principal, can_read
from shared.orgs import org_within
from shared.refusal import Refused

REGION_ADMINS = ("province_admin", "city_admin", "county_admin")
ADMINS = (*REGION_ADMINS, "school_admin")


def require(ok: bool, detail: str = "not this principal's enrollment or project") -> None:
    if not ok:
        raise Refused("out_of_scope", detail, 403)


def is_host(pr: Principal, host_id: str | None) -> bool:
    return pr.role == "host" and host_id is not None and pr.org == host_id


def administers_host(pr: Principal, province_code: str) -> bool:
    """Hosts are registered and renamed by the admins of their province."""
    return pr.role == "province_admin" and pr.org == province_code


def runs(pr: Principal, p: ProjectFacts) -> bool:
    """The project's host, or an admin over its organizer (they run sessions and assessments)."""
    return is_host(pr, p.host_id) or (pr.role in ADMINS and can_read(pr, p.organizer_code))


def runs_project(pr: Principal, s: Enrollment, p: ProjectFacts, teacher_school: str | None = None) -> bool:
    return runs(pr, p)


def records_no_show(pr: Principal, s: Enrollment, p: ProjectFacts, teacher_school: str | None = None) -> bool:
    """Those who run the project, and the nominating region's admins: a county records (and
    later excuses) the no-show of its own nominee (004 四.1, 二(四))."""
    return runs_project(pr, s, p) or region_admin(pr, s, p)


def region_admin(pr: Principal, s: Enrollment, p: ProjectFacts, teacher_school: str | None = None) -> bool:
    """An admin over the nominating region (nominate, replace, withdraw)."""
    return pr.role in REGION_ADMINS and s.region_code is not None and can_read(pr, s.region_code)


def checks_in(pr: Principal, s: Enrollment, p: ProjectFacts, teacher_school: str | None = None) -> bool:
    """The teacher themself, the project's host, an admin over the region, or the admin of the
    teacher's school (issue 20: scope follows the teacher's school too, not only the nominator)."""
    return ((pr.role == "teacher" and pr.sub == s.teacher_id) or is_host(pr, p.host_id)
            or (pr.role in ADMINS and s.region_code is not None and can_read(pr, s.region_code))
            or (pr.role == "school_admin" and teacher_school is not None and pr.org == teacher_school))


def attendee(pr: Principal, s: Enrollment, p: ProjectFacts, teacher_school: str | None = None) -> bool:
    """The teacher on the place (the evaluation is theirs)."""
    return pr.role == "teacher" and pr.sub == s.teacher_id


def requests_leave(pr: Principal, s: Enrollment, p: ProjectFacts, teacher_school: str | None = None) -> bool:
    """Leave (请假, 002 §4.1.3) is asked for by the teacher themself, or recorded by the project's
    host on the teacher's behalf."""
    return attendee(pr, s, p) or is_host(pr, p.host_id)


def project_act(pr: Principal, plan: DraftProject, act: str) -> None:
    """"organize": admins whose org contains the organizer; "report" (bulletins, and the plan
    the host files, 004 §3.2): those or the project's host; "approve": as organize, by a reviewer
    other than the organizer (004 §3.2)."""
    if act == "report" and is_host(pr, plan.host_id):
        return
    if pr.role == "host":
        raise Refused("out_of_scope", "only this project's host files its plan and bulletins", 403)
    if not (pr.org and org_within(plan.organizer_code, pr.org)):
        raise Refused("out_of_scope", f"org {plan.organizer_code} is outside this principal's org {pr.org}", 403)
    if act == "approve":
        check_reviewer(pr.role, pr.org, plan.organizer_code)
