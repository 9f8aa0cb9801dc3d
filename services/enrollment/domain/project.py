"""Training project (培训项目) decider, stdlib only. Lifecycle (DOMAIN.md): drafted → plan_submitted
→ approved (方案审核备案) → open → started → closed; cancelled before it starts. Rules take `today`
(Asia/Shanghai) and `ProjectRules` as arguments. A cross-year project states `first_year_ends_on`:
004 §3.2 judges the first year's end (30 November), which start and end dates cannot show.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from shared.refusal import Refused

from .rules import DEFAULT_RULES, ProjectRules

LEVELS = ("national", "provincial", "municipal", "county", "school")
Events = list[tuple[str, dict[str, Any]]]

@dataclass(frozen=True)
class Module:
    name: str
    hours: float
    practical: bool = False
    kind: str = "general"  # rules.ethics_module_kind ("ethics") marks the 师德 module


@dataclass(frozen=True)
class DraftProject:
    project_id: str
    code: str
    name: str
    level: str
    category: str
    year: int
    host_id: str | None
    organizer_code: str
    hours: float
    hour_category: str
    starts_on: date
    ends_on: date
    cross_year: bool
    practical_ratio: float
    modules: tuple[Module, ...] = ()
    first_year_ends_on: date | None = None


@dataclass(frozen=True)
class ProjectState:
    status: str | None = None  # None: the stream does not exist
    plan: DraftProject | None = None  # what was drafted; no event edits it afterwards
    bulletins: frozenset[int] = field(default_factory=frozenset)

_MOVES = {"ProjectPlanSubmitted": "plan_submitted", "ProjectApproved": "approved", "ProjectOpened": "open",
          "ProjectStarted": "started", "ProjectClosed": "closed", "ProjectCancelled": "cancelled"}


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _drafted(d: dict[str, Any]) -> DraftProject:
    return DraftProject(
        project_id=d["project_id"], code=d["code"], name=d["name"], level=d["level"], category=d["category"],
        year=d["year"], host_id=d.get("host_id"), organizer_code=d["organizer_code"], hours=d["hours"],
        hour_category=d["hour_category"], starts_on=date.fromisoformat(d["starts_on"]),
        ends_on=date.fromisoformat(d["ends_on"]), cross_year=d.get("cross_year", False),
        practical_ratio=d["practical_ratio"], modules=tuple(Module(**m) for m in d.get("modules", [])),
        first_year_ends_on=_date(d.get("first_year_ends_on")))


def evolve(state: ProjectState, event_type: str, data: dict[str, Any]) -> ProjectState:
    if event_type == "ProjectDrafted":
        return ProjectState(status="drafted", plan=_drafted(data))
    if event_type in _MOVES:
        return replace(state, status=_MOVES[event_type])
    if event_type == "BulletinSubmitted":
        return replace(state, bulletins=state.bulletins | {data["issue_no"]})
    return state  # QuotaAllocated changes no decision the project itself makes


def check_calendar(p: DraftProject, rules: ProjectRules = DEFAULT_RULES, status: int = 422) -> None:
    """004 §3.2 schedule rules, for the levels the policy's calendar binds (national by default);
    422 when drafting (bad input), 409 when re-checked at submission. Every level states whether
    it runs across a year end (cross_year) consistently with its dates."""
    first = p.first_year_ends_on
    bound = p.level in rules.calendar_levels
    if not p.cross_year:
        if first is not None:
            raise Refused("cross_year_mismatch", "first_year_ends_on applies to cross-year projects only", 422)
        if p.ends_on.year > p.year:
            raise Refused("cross_year_mismatch", "a project ending in a later year is a cross-year project", 422)
        last = date(p.year, *rules.single_year_end)
        if bound and p.ends_on > last:
            raise Refused("ends_after_dec_20", f"a single-year project must end by {last}", status)
        return
    if p.ends_on.year <= p.year:
        raise Refused("cross_year_mismatch", "a cross-year project must end in a later year", 422)
    if not bound:
        if first is not None and not (p.starts_on <= first <= p.ends_on and first.year == p.year):
            raise Refused("bad_first_year_end", "first_year_ends_on must fall in the first year of the project", 422)
        return
    if first is None:
        raise Refused("first_year_end_required", "a cross-year project needs first_year_ends_on", 422)
    if not (p.starts_on <= first <= p.ends_on and first.year == p.year):
        raise Refused("bad_first_year_end", "first_year_ends_on must fall in the first year of the project", 422)
    first_last = date(p.year, *rules.cross_year_first_year_end)
    if first > first_last:
        raise Refused("first_year_after_nov_30", f"the first year's training must end by {first_last}", status)
    last_year = p.year + rules.cross_year_span_years - 1
    if p.ends_on.year > last_year:
        raise Refused("exceeds_two_years", f"the project must end by {date(last_year, 12, 31)}", status)


def decide_draft(state: ProjectState, cmd: DraftProject, rules: ProjectRules = DEFAULT_RULES) -> Events:
    if state.status is not None:
        raise Refused("project_exists", "this project was already drafted")
    if cmd.level not in LEVELS:
        raise Refused("bad_level", f"level must be one of {', '.join(LEVELS)}", 422)
    if cmd.ends_on < cmd.starts_on:
        raise Refused("ends_before_start", "ends_on is before starts_on", 422)
    if cmd.starts_on.year != cmd.year:
        raise Refused("year_mismatch", "year must be the year the project starts", 422)
    if not 0 < cmd.hours <= rules.max_project_hours:
        raise Refused("hours_out_of_range", f"hours must be in (0, {rules.max_project_hours}]", 422)
    if not 0 <= cmd.practical_ratio <= 1:
        raise Refused("practical_ratio_out_of_range", "practical_ratio must be within [0, 1]", 422)
    if any(m.hours <= 0 for m in cmd.modules) or sum(m.hours for m in cmd.modules) > cmd.hours:
        raise Refused("module_hours_invalid", "module hours must be positive and sum to at most the hours", 422)
    check_calendar(cmd, rules)
    iso = {k: getattr(cmd, k).isoformat() if getattr(cmd, k) else None
           for k in ("starts_on", "ends_on", "first_year_ends_on")}
    data = asdict(cmd) | iso | {"modules": [asdict(m) for m in cmd.modules]}
    return [("ProjectDrafted", data)]


def plan_of(state: ProjectState) -> DraftProject:
    """The drafted plan; a project never drafted does not exist."""
    if state.plan is None:
        raise Refused("project_not_found", "no such project", 404)
    return state.plan


def _invalid(state: ProjectState, action: str) -> Refused:
    return Refused("invalid_transition", f"cannot {action} a project that is {state.status}")


def _moved(type_: str, state: ProjectState, today: date) -> Events:
    return [(type_, {"project_id": plan_of(state).project_id, "on": today.isoformat()})]


def decide_submit_plan(state: ProjectState, today: date, rules: ProjectRules = DEFAULT_RULES,
                       policy_label: str = "default") -> Events:
    """`rules` are those of the enrollment policy in force today (domain/policy.py), which the
    event names (`policy_label`)."""
    plan = plan_of(state)
    if state.status != "drafted":
        raise _invalid(state, "submit the plan of")
    deadline = plan.starts_on - timedelta(days=rules.plan_lead_days)
    # 004 §3.2: at least N days before start (the deadline day itself is fine), for the levels its
    # calendar binds; any plan is submitted before the project starts.
    if plan.level not in rules.calendar_levels:
        deadline = plan.starts_on - timedelta(days=1)
    if today > deadline:
        raise Refused("plan_late", f"the plan had to be submitted by {deadline}")
    if plan.practical_ratio < rules.min_practical_ratio:  # 004 §2.3
        raise Refused("practical_share_low", f"practical courses must be at least {rules.min_practical_ratio:.0%}")
    if rules.ethics_module_kind is not None and all(m.kind != rules.ethics_module_kind for m in plan.modules):
        # 004 §2.3, 000 §2.1
        raise Refused("ethics_module_missing", "the plan needs an ethics (师德) module")
    check_calendar(plan, rules, status=409)
    (moved,) = _moved("ProjectPlanSubmitted", state, today)
    return [(moved[0], {**moved[1], "policy": policy_label})]


def decide_approve(state: ProjectState, today: date) -> Events:
    plan_of(state)
    if state.status != "plan_submitted":
        raise _invalid(state, "approve")
    return _moved("ProjectApproved", state, today)


def decide_open(state: ProjectState, today: date) -> Events:
    plan_of(state)
    if state.status in ("drafted", "plan_submitted"):
        raise Refused("not_approved", "only an approved project opens for selection")
    if state.status != "approved":
        raise _invalid(state, "open")
    return _moved("ProjectOpened", state, today)


def decide_start(state: ProjectState, today: date) -> Events:
    plan_of(state)
    if state.status in ("drafted", "plan_submitted"):  # 004 §3.2: 审核通过后,启动培训
        raise Refused("not_approved", "only an approved project may start")
    if state.status == "approved":
        raise Refused("not_open", "open the project for selection before starting it")
    if state.status != "open":
        raise _invalid(state, "start")
    return _moved("ProjectStarted", state, today)


def decide_close(state: ProjectState, today: date) -> Events:
    plan_of(state)
    if state.status != "started":
        raise _invalid(state, "close")
    return _moved("ProjectClosed", state, today)


def decide_cancel(state: ProjectState, reason: str, today: date) -> Events:
    plan_of(state)
    if not reason.strip():
        raise Refused("reason_required", "say why the project is cancelled", 422)
    if state.status in ("started", "closed"):
        raise Refused("already_started", "a project can be cancelled only before it starts")
    if state.status == "cancelled":
        raise _invalid(state, "cancel")
    [(type_, data)] = _moved("ProjectCancelled", state, today)
    return [(type_, data | {"reason": reason.strip()})]


def decide_allocate_quota(state: ProjectState, region_code: str, places: int) -> Events:
    # The region and the places already used are judged in project_refs.decide_quota.
    plan = plan_of(state)
    if state.status in ("closed", "cancelled"):
        raise Refused("project_inactive", f"the project is {state.status}")
    if places < 0:
        raise Refused("bad_places", "places must be zero or more", 422)
    return [("QuotaAllocated", {"project_id": plan.project_id, "region_code": region_code, "places": places})]


def decide_submit_bulletin(state: ProjectState, issue_no: int, title: str, published_on: date, today: date) -> Events:
    plan = plan_of(state)
    if state.status not in ("started", "closed"):  # 004 §3.3: bulletins report a running project
        raise Refused("project_not_started", "bulletins are for started or closed projects")
    if issue_no < 1 or not title.strip():
        raise Refused("bad_bulletin", "issue_no must be 1 or more and title non-empty", 422)
    if published_on > today:
        raise Refused("published_in_future", "published_on is after today", 422)
    if issue_no in state.bulletins:
        raise Refused("bulletin_exists", f"issue {issue_no} was already submitted")
    # received_on: the server's day, what a deadline is judged on (issue 20: a host could backdate
    # published_on); published_on stays as the host states it.
    return [("BulletinSubmitted", {"project_id": plan.project_id, "issue_no": issue_no, "title": title.strip(),
                                   "published_on": published_on.isoformat(), "received_on": today.isoformat()})]
