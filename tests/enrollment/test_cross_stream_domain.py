"""The rules that span streams, decided purely on the facts a handler reads under its locks:
nomination and replacement (quota, one place per project, 004 §3.1 and §4.1), a draft's
references and code, a quota's region and places used, the plan's reviewer (004 §3.2), and a
file of attendance judged as a whole. Given facts / When command / Then events or refusal."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.enrollment.domain import enrollment as d
from services.enrollment.domain import project as p
from services.enrollment.domain.attendance_import import Row, decide_import
from services.enrollment.domain.nomination import Candidate, Quota, decide_nomination, decide_replacement
from services.enrollment.domain.project_refs import DraftFacts, check_reviewer, decide_new_project, decide_quota
from services.enrollment.domain.selection import NationalHistory
from shared.refusal import Refused

TODAY = date(2023, 7, 10)
PROJECT = d.ProjectFacts(project_id="p-1", status="open", level="national", category="c", year=2023, hours=90,
                         hour_category="centralized", host_id="h-1", organizer_code="610000",
                         starts_on=date(2023, 7, 15), ends_on=date(2023, 7, 30))
CLEAN = Candidate(in_region=True)
NOMINATED = ("TeacherNominated", {"enrollment_id": "e-1", "project_id": "p-1", "teacher_id": "t-1",
                                  "region_code": "610102", "level": "national", "category": "c", "year": 2023})


def refused(code: str, fn, *args, **kwargs) -> None:
    with pytest.raises(Refused) as info:
        fn(*args, **kwargs)
    assert info.value.code == code


def nominate(candidate: Candidate = CLEAN, quota: Quota | None = Quota(2, 0), project=PROJECT):
    return decide_nomination(d.INITIAL, enrollment_id="e-1", teacher_id="t-1", region_code="610102",
                             project=project, candidate=candidate, quota=quota, today=TODAY)


def test_a_nomination_within_the_quota_of_a_clean_candidate():
    assert [t for t, _ in nominate()] == ["TeacherNominated"]


def test_nomination_refusals_in_the_order_they_are_reported():
    barred_and_full = replace(CLEAN, history=NationalHistory(bars=((2023, 2025),)), in_project=True)
    refused("no_quota", nominate, barred_and_full, None)
    refused("barred", nominate, barred_and_full, Quota(1, 1))
    refused("already_nominated", nominate, replace(barred_and_full, history=NationalHistory()), Quota(1, 1))
    refused("quota_exhausted", nominate, CLEAN, Quota(1, 1))
    refused("national_limit", nominate, replace(CLEAN, history=NationalHistory(slot_years=frozenset({2023}))))
    # The national rules apply to national projects only; the quota and the one place to all.
    provincial = replace(PROJECT, level="provincial")
    assert nominate(replace(CLEAN, history=NationalHistory(slot_years=frozenset({2023}))), project=provincial)
    refused("quota_exhausted", nominate, CLEAN, Quota(0, 0), provincial)


def test_a_replacement_passes_the_selection_rules_too():
    state = d.evolve(d.INITIAL, *NOMINATED)
    assert decide_replacement(state, teacher_id="t-2", project=PROJECT, candidate=CLEAN)
    refused("category_repeat", decide_replacement, state, teacher_id="t-2", project=PROJECT,
            candidate=replace(CLEAN, history=NationalHistory(attended_categories=frozenset({"c"}))))
    refused("already_nominated", decide_replacement, state, teacher_id="t-2", project=PROJECT,
            candidate=replace(CLEAN, in_project=True))


DRAFT = p.DraftProject(project_id="p-1", code="GP-1", name="国培", level="national", category="c", year=2025,
                       host_id="h-1", organizer_code="610000", hours=90, hour_category="centralized",
                       starts_on=date(2025, 7, 1), ends_on=date(2025, 7, 10), cross_year=False,
                       practical_ratio=0.6, modules=(p.Module("师德", 6, False, "ethics"),))


def test_a_draft_names_registered_orgs_and_a_free_code():
    known = DraftFacts(organizer_known=True, host_known=True, code_taken=False)
    assert decide_new_project(p.ProjectState(), DRAFT, known)[0][0] == "ProjectDrafted"
    refused("org_not_found", decide_new_project, p.ProjectState(), DRAFT, replace(known, organizer_known=False))
    refused("host_not_found", decide_new_project, p.ProjectState(), DRAFT, replace(known, host_known=False))
    taken = replace(known, code_taken=True)
    refused("bad_level", decide_new_project, p.ProjectState(), replace(DRAFT, level="x"), taken)  # the plan first
    refused("project_code_exists", decide_new_project, p.ProjectState(), DRAFT, taken)


def test_a_quota_goes_to_a_region_under_the_organizer_never_below_the_places_used():
    state = p.evolve(p.ProjectState(), "ProjectDrafted", p.decide_draft(p.ProjectState(), DRAFT)[0][1])
    assert decide_quota(state, "610102", "county", 3, None)
    assert decide_quota(state, "610102", "county", 3, 3)
    refused("quota_below_used", decide_quota, state, "610102", "county", 2, 3)
    refused("region_not_found", decide_quota, state, "610199", None, 3, None)
    refused("region_kind_invalid", decide_quota, state, "610000", "province", 3, None)
    refused("region_outside_organizer", decide_quota, state, "410102", "county", 3, None)
    refused("project_not_found", decide_quota, p.ProjectState(), "610102", "county", 3, None)


@pytest.mark.parametrize(("role", "org", "organizer", "ok"), [
    ("province_admin", "610000", "610100", True), ("city_admin", "610100", "610100", False),
    ("province_admin", "610000", "610000", True), ("county_admin", "610102", "610102", False)])
def test_a_plan_is_approved_by_a_higher_administration(role, org, organizer, ok):
    if ok:
        check_reviewer(role, org, organizer)
    else:
        refused("self_approval", check_reviewer, role, org, organizer)


def test_an_attendance_file_is_judged_row_by_row_and_as_a_whole():
    checked_in = d.evolve(d.evolve(d.INITIAL, *NOMINATED), "TeacherCheckedIn", {"checked_in_on": "2023-07-15"})
    unapproved = [Row(3, "e-1", "t-1", date(2023, 7, 17), "leave", 0)]  # 002 §4.1.3: leave needs approval
    assert [r["code"] for r in decide_import(unapproved, {"e-1": checked_in}, PROJECT)[1]] == ["leave_not_approved"]
    for type_ in ("LeaveRequested", "LeaveApproved"):
        checked_in = d.evolve(checked_in, type_, {"session_date": "2023-07-17"})
    started = replace(PROJECT, status="started")
    rows = [Row(2, "e-1", None, date(2023, 7, 16), "present", 6), Row(3, "e-1", "t-1", date(2023, 7, 17), "leave", 0)]
    decided, refusals = decide_import(rows, {"e-1": checked_in}, started)
    assert refusals == [] and [data["session_date"] for _, data in decided["e-1"]] == ["2023-07-16", "2023-07-17"]
    bad = [*rows, Row(4, "e-1", None, date(2023, 7, 16), "present", 6),  # the same date again
           Row(5, "e-1", "t-2", date(2023, 7, 18), "present", 6),  # another teacher's enrollment
           Row(6, None, "t-9", date(2023, 7, 18), "present", 6),  # a teacher without one
           Row(7, "e-1", None, date(2023, 8, 1), "present", 6)]
    _, refusals = decide_import(bad, {"e-1": checked_in}, started)
    assert [(r["line"], r["code"]) for r in refusals] == [
        (4, "duplicate_row"), (5, "enrollment_not_found"), (6, "enrollment_not_found"), (7, "session_out_of_range")]
