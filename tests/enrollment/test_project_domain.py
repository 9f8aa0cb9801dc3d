"""Training project decider, Given events / When command / Then events (or refusal). No database.
Boundaries are the seed's: 10 days before start, 50% practical, 20 Dec, 30 Nov, two years (004)."""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from services.enrollment.domain import project as p
from services.enrollment.domain.rules import ProjectRules
from services.enrollment.titles import TITLES
from shared.refusal import Refused

PID = "5b0c7a52-3f7e-4a55-9d4e-2a6d0c4b8e11"
START = date(2025, 7, 1)
ETHICS = p.Module("师德师风第一课", 6, False, "ethics")
BASE = p.DraftProject(
    project_id=PID, code="GP2025-001", name="农村骨干教师分层分类培训", level="national",
    category="农村骨干教师分层分类培训", year=2025, host_id="0f8e2d6c-1c8e-4a8e-9a51-6c0a9d1f2b33",
    organizer_code="610000", hours=90, hour_category="centralized", starts_on=START, ends_on=date(2025, 7, 10),
    cross_year=False, practical_ratio=0.6, modules=(ETHICS, p.Module("课堂观摩", 54, True, "practice")),
)
CROSS = replace(BASE, cross_year=True, first_year_ends_on=date(2025, 11, 30), ends_on=date(2026, 6, 30))


def given(*events: tuple[str, dict]) -> p.ProjectState:
    return functools.reduce(lambda state, event: p.evolve(state, *event), events, p.ProjectState())


def drafted(**changes) -> tuple[str, dict]:
    return p.decide_draft(p.ProjectState(), replace(BASE, **changes))[0]


def moved(*types: str) -> list[tuple[str, dict]]:
    return [(t, {"project_id": PID, "on": "2025-06-01"}) for t in types]


CLOSED = ["ProjectPlanSubmitted", "ProjectApproved", "ProjectOpened", "ProjectStarted", "ProjectClosed"]
STARTED = CLOSED[:4]
AT = {"drafted": [], "plan_submitted": CLOSED[:1], "approved": CLOSED[:2], "open": CLOSED[:3], "started": STARTED,
      "closed": CLOSED, "cancelled": ["ProjectCancelled"]}


def at(status: str, **changes) -> p.ProjectState:
    return given(drafted(**changes), *moved(*AT[status]))


def refused(code: str, status: int, fn, *args) -> None:
    with pytest.raises(Refused) as info:
        fn(*args)
    assert (info.value.code, info.value.status) == (code, status)


# --- drafting ---------------------------------------------------------------------------------

def test_draft_records_project_drafted_with_iso_dates_and_modules():
    [(type_, data)] = p.decide_draft(p.ProjectState(), BASE)
    assert type_ == "ProjectDrafted"
    assert data["project_id"] == PID and data["starts_on"] == "2025-07-01" and data["ends_on"] == "2025-07-10"
    assert data["modules"][0] == {"name": "师德师风第一课", "hours": 6, "practical": False, "kind": "ethics"}
    assert data["first_year_ends_on"] is None and data["hours"] == 90 and data["organizer_code"] == "610000"
    assert set(data) >= {"code", "name", "level", "category", "year", "host_id", "hour_category", "cross_year",
                         "practical_ratio"}


def test_a_project_is_drafted_once():
    refused("project_exists", 409, p.decide_draft, at("drafted"), BASE)


@pytest.mark.parametrize(("changes", "code"), [
    ({"ends_on": START - timedelta(days=1)}, "ends_before_start"),
    ({"year": 2024}, "year_mismatch"),
    ({"hours": 0}, "hours_out_of_range"),
    ({"hours": -5}, "hours_out_of_range"),
    ({"hours": 1000.5}, "hours_out_of_range"),
    ({"practical_ratio": -0.01}, "practical_ratio_out_of_range"),
    ({"practical_ratio": 1.01}, "practical_ratio_out_of_range"),
    ({"modules": (ETHICS, p.Module("x", 85, True))}, "module_hours_invalid"),
    ({"modules": (ETHICS, p.Module("x", 0, True))}, "module_hours_invalid"),
    ({"level": "village"}, "bad_level"),
    ({"ends_on": date(2025, 12, 21)}, "ends_after_dec_20"),
    ({"first_year_ends_on": date(2025, 7, 5)}, "cross_year_mismatch"),
])
def test_bad_drafts_are_refused_as_422(changes, code):
    refused(code, 422, p.decide_draft, p.ProjectState(), replace(BASE, **changes))


@pytest.mark.parametrize("changes", [
    {"ends_on": START}, {"hours": 1000}, {"practical_ratio": 0}, {"practical_ratio": 1},
    {"modules": ()}, {"ends_on": date(2025, 12, 20)},
])
def test_boundary_drafts_pass(changes):
    assert p.decide_draft(p.ProjectState(), replace(BASE, **changes))[0][0] == "ProjectDrafted"


def test_single_year_ends_by_20_december_as_policy_data():
    late = replace(BASE, ends_on=date(2025, 12, 15))
    assert p.decide_draft(p.ProjectState(), late)
    refused("ends_after_dec_20", 422, p.decide_draft, p.ProjectState(), late, ProjectRules(single_year_end=(12, 10)))


# --- cross-year (004 §3.2): first year by 30 Nov, the whole within two years ------------------------

def test_cross_year_boundaries_pass():
    for first, end in ((date(2025, 11, 30), date(2026, 12, 31)), (START, date(2026, 1, 1))):
        [(_, data)] = p.decide_draft(p.ProjectState(), replace(CROSS, first_year_ends_on=first, ends_on=end))
        assert data["first_year_ends_on"] == first.isoformat() and data["cross_year"] is True


@pytest.mark.parametrize(("changes", "code"), [
    ({"first_year_ends_on": date(2025, 12, 1)}, "first_year_after_nov_30"),
    ({"ends_on": date(2027, 1, 1)}, "exceeds_two_years"),
    ({"first_year_ends_on": None}, "first_year_end_required"),
    ({"ends_on": date(2025, 12, 10)}, "cross_year_mismatch"),
    ({"first_year_ends_on": START - timedelta(days=1)}, "bad_first_year_end"),
])
def test_cross_year_refusals(changes, code):
    refused(code, 422, p.decide_draft, p.ProjectState(), replace(CROSS, **changes))


# --- plan submission (004 §3.2, §2.3) ----------------------------------------------------------

def test_plan_exactly_ten_days_before_start_is_submitted_and_nine_is_late():
    today = START - timedelta(days=10)
    assert p.decide_submit_plan(at("drafted"), today) == [
        ("ProjectPlanSubmitted", {"project_id": PID, "on": today.isoformat(), "policy": "default"})]
    refused("plan_late", 409, p.decide_submit_plan, at("drafted"), START - timedelta(days=9))


def test_practical_share_of_exactly_half_is_enough_and_less_is_refused():
    today = START - timedelta(days=30)
    assert p.decide_submit_plan(at("drafted", practical_ratio=0.5), today)
    refused("practical_share_low", 409, p.decide_submit_plan, at("drafted", practical_ratio=0.49), today)


def test_plan_without_the_ethics_module_is_refused():
    no_ethics = (p.Module("课堂观摩", 54, True, "practice"),)
    refused("ethics_module_missing", 409, p.decide_submit_plan, at("drafted", modules=no_ethics), date(2025, 5, 1))


def test_plan_rules_are_data_not_constants():
    strict = ProjectRules(plan_lead_days=20, min_practical_ratio=0.7)
    refused("plan_late", 409, p.decide_submit_plan, at("drafted"), START - timedelta(days=15), strict)
    refused("practical_share_low", 409, p.decide_submit_plan, at("drafted"), START - timedelta(days=25), strict)
    assert p.decide_submit_plan(at("drafted"), START - timedelta(days=20), replace(strict, min_practical_ratio=0.6))


def test_calendar_is_rechecked_at_submission_under_the_rules_in_force():
    state = at("drafted", ends_on=date(2025, 12, 15), starts_on=date(2025, 12, 1))
    stricter = ProjectRules(single_year_end=(12, 10))
    refused("ends_after_dec_20", 409, p.decide_submit_plan, state, date(2025, 11, 1), stricter)


@pytest.mark.parametrize("status", ["plan_submitted", "approved", "open", "started", "closed", "cancelled"])
def test_plan_is_submitted_only_from_drafted(status):
    refused("invalid_transition", 409, p.decide_submit_plan, at(status), date(2025, 5, 1))


def test_commands_on_a_missing_project_are_404():
    for fn, args in ((p.decide_submit_plan, (date(2025, 5, 1),)), (p.decide_approve, (date(2025, 5, 1),)),
                     (p.decide_cancel, ("x", date(2025, 5, 1))), (p.decide_allocate_quota, ("610100", 3))):
        refused("project_not_found", 404, fn, p.ProjectState(), *args)


# --- approve, open, start, close, cancel ---------------------------------------------------------

TODAY = date(2025, 6, 20)


@pytest.mark.parametrize(("decide", "status", "event"), [
    (p.decide_approve, "plan_submitted", "ProjectApproved"), (p.decide_open, "approved", "ProjectOpened"),
    (p.decide_start, "open", "ProjectStarted"), (p.decide_close, "started", "ProjectClosed"),
])
def test_each_step_from_its_state(decide, status, event):
    assert decide(at(status), TODAY) == [(event, {"project_id": PID, "on": TODAY.isoformat()})]


@pytest.mark.parametrize(("decide", "status", "code"), [
    (p.decide_approve, "drafted", "invalid_transition"), (p.decide_approve, "approved", "invalid_transition"),
    (p.decide_open, "drafted", "not_approved"), (p.decide_open, "plan_submitted", "not_approved"),
    (p.decide_open, "open", "invalid_transition"), (p.decide_open, "cancelled", "invalid_transition"),
    (p.decide_start, "drafted", "not_approved"), (p.decide_start, "plan_submitted", "not_approved"),
    (p.decide_start, "approved", "not_open"), (p.decide_start, "started", "invalid_transition"),
    (p.decide_start, "cancelled", "invalid_transition"),
    (p.decide_close, "open", "invalid_transition"), (p.decide_close, "closed", "invalid_transition"),
])
def test_wrong_state_steps_are_refused(decide, status, code):
    refused(code, 409, decide, at(status), TODAY)


@pytest.mark.parametrize("status", ["drafted", "plan_submitted", "approved", "open"])
def test_cancel_before_start(status):
    assert p.decide_cancel(at(status), " 疫情 ", TODAY) == [
        ("ProjectCancelled", {"project_id": PID, "on": TODAY.isoformat(), "reason": "疫情"})]


@pytest.mark.parametrize(("status", "reason", "code", "http"), [
    ("started", "late", "already_started", 409), ("closed", "late", "already_started", 409),
    ("cancelled", "twice", "invalid_transition", 409), ("open", "  ", "reason_required", 422)])
def test_cancel_after_start_twice_or_without_reason_is_refused(status, reason, code, http):
    refused(code, http, p.decide_cancel, at(status), reason, TODAY)


def test_evolve_follows_the_whole_lifecycle_and_ignores_quotas_and_added_fields():
    kind, data = drafted()
    state = given((kind, data | {"added_in_v2": 1}), *moved(*CLOSED),
                  ("QuotaAllocated", {"project_id": PID, "region_code": "610100", "places": 3}))
    assert state.status == "closed" and state.plan == BASE


# --- quotas and bulletins ---------------------------------------------------------------------

def test_quota_allocated_until_closed():
    for status in ("drafted", "open", "started"):
        assert p.decide_allocate_quota(at(status), "610100", 0) == [
            ("QuotaAllocated", {"project_id": PID, "region_code": "610100", "places": 0})]
    for status in ("closed", "cancelled"):
        refused("project_inactive", 409, p.decide_allocate_quota, at(status), "610100", 5)
    refused("bad_places", 422, p.decide_allocate_quota, at("open"), "610100", -1)


def test_bulletins_for_started_or_closed_projects_once_per_issue():
    for status in ("started", "closed"):
        # A bulletin dated earlier than it arrives keeps both dates; deadlines read received_on.
        assert p.decide_submit_bulletin(at(status), 1, " 第一期 ", TODAY - timedelta(days=3), TODAY) == [
            ("BulletinSubmitted", {"project_id": PID, "issue_no": 1, "title": "第一期", "published_on": "2025-06-17",
                                   "received_on": "2025-06-20"})]
    refused("project_not_started", 409, p.decide_submit_bulletin, at("open"), 1, "t", TODAY, TODAY)
    with_one = given(drafted(), *moved(*STARTED), ("BulletinSubmitted", {"project_id": PID, "issue_no": 1}))
    refused("bulletin_exists", 409, p.decide_submit_bulletin, with_one, 1, "again", TODAY, TODAY)
    assert p.decide_submit_bulletin(with_one, 2, "第二期", TODAY, TODAY)


def test_bad_bulletins_are_422():
    refused("published_in_future", 422, p.decide_submit_bulletin, at("started"), 1, "t", TODAY + timedelta(1), TODAY)
    refused("bad_bulletin", 422, p.decide_submit_bulletin, at("started"), 0, "t", TODAY, TODAY)
    refused("bad_bulletin", 422, p.decide_submit_bulletin, at("started"), 1, " ", TODAY, TODAY)


def test_every_refusal_code_has_a_bilingual_title():
    root = Path(p.__file__).parents[1]  # the domain and the handlers raise Refused, the service has one TITLES
    sources = root.rglob("*.py")
    raised = {code for f in sources for code in re.findall(r'Refused\("(\w+)"', f.read_text(encoding="utf-8"))}
    assert raised <= set(TITLES), raised - set(TITLES)
    for code, title in TITLES.items():
        assert any("\u4e00" <= ch <= "\u9fff" for ch in title), code
        assert any(ch.isascii() and ch.isalpha() for ch in title), code
