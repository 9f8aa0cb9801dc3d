"""Enrollment policy as data (domain/policy.py, issue 15): each field decides what its seed
sentence says by default, a province's own version decides instead, and a version published
mid-year governs only decisions from its effective date. Given policy versions and facts /
When a command / Then events (naming the version) or a refusal. No database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from services.enrollment.domain import enrollment as d
from services.enrollment.domain import project as p
from services.enrollment.domain.nomination import Candidate, Quota, decide_nomination, decide_replacement
from services.enrollment.domain.policy import (
    DEFAULT_POLICY,
    EnrollmentPolicy,
    decide_publish,
    evolve_policy,
    policy_from_data,
    policy_in_force,
    policy_to_data,
)
from services.enrollment.domain.project_refs import DraftFacts, decide_new_project
from services.enrollment.domain.rules import ProjectRules
from services.enrollment.domain.selection import NationalHistory, SelectionRules
from shared.refusal import Refused

PROVINCE, CITY, COUNTY, OTHER_PROVINCE = "610000", "610100", "610102", "620000"
NOTICE = date(2023, 6, 1)
PROJECT = d.ProjectFacts(project_id="p-1", status="open", level="national", category="c", year=2023, hours=90,
                         hour_category="centralized", host_id="h-1", organizer_code=PROVINCE,
                         starts_on=date(2023, 7, 15), ends_on=date(2023, 7, 30), opened_on=NOTICE)
CLEAN = Candidate(in_region=True)
ATTENDED_C = replace(CLEAN, history=NationalHistory(attended_categories=frozenset({"c"})))


def version(code: str, effective_from: date, **fields) -> EnrollmentPolicy:
    """A published version: the default's values with `fields` changed."""
    selection = {k: fields.pop(k) for k in ("bar_years", "no_repeat_category", "cross_year_exempt_from_repeat")
                 if k in fields}
    projects = {k: fields.pop(k) for k in list(fields) if k in ProjectRules.__dataclass_fields__}
    return EnrollmentPolicy(projects=replace(DEFAULT_POLICY.projects, **projects),
                            selection=replace(DEFAULT_POLICY.selection, **selection),
                            jurisdiction_code=code, effective_from=effective_from, **fields)


def refused(code: str, fn, *args, **kwargs) -> None:
    with pytest.raises(Refused) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value


def nominate(on: date, policy: EnrollmentPolicy = DEFAULT_POLICY, candidate: Candidate = CLEAN, project=PROJECT):
    return decide_nomination(d.INITIAL, enrollment_id="e-1", teacher_id="t-1", region_code=COUNTY, project=project,
                             candidate=candidate, quota=Quota(5, 0), today=on, policy=policy)


# Which version governs (the nearest jurisdiction, the date in force, corrections)

def test_with_no_version_published_the_national_default_governs():
    assert policy_in_force([], COUNTY, date(2023, 6, 5)) is DEFAULT_POLICY
    assert DEFAULT_POLICY.label == "default"


def test_the_nearest_jurisdiction_with_a_version_in_force_governs():
    province = version(PROVINCE, date(2023, 1, 1), nomination_window_days=30)
    county = version(COUNTY, date(2023, 1, 1), nomination_window_days=15)
    other = version(OTHER_PROVINCE, date(2020, 1, 1), nomination_window_days=5)
    assert policy_in_force([province, county, other], COUNTY, date(2023, 6, 5)) == county
    assert policy_in_force([province, county, other], "610103", date(2023, 6, 5)) == province  # a sibling county
    assert policy_in_force([province, county, other], CITY, date(2023, 6, 5)) == province


def test_a_version_published_mid_year_governs_decisions_from_its_effective_date_only():
    spring = version(PROVINCE, date(2023, 1, 1), nomination_window_days=30)
    autumn = version(PROVINCE, date(2023, 9, 1), nomination_window_days=10)
    book = [spring, autumn]
    assert policy_in_force(book, PROVINCE, date(2023, 8, 31)) == spring
    assert policy_in_force(book, PROVINCE, date(2023, 9, 1)) == autumn
    assert policy_in_force(book, PROVINCE, date(2022, 12, 31)) is DEFAULT_POLICY
    # The same nomination, day 25 after its notice: inside spring's 30 days, outside autumn's 10.
    opened_aug = replace(PROJECT, opened_on=date(2023, 8, 10))
    assert nominate(date(2023, 8, 31), policy_in_force(book, PROVINCE, date(2023, 8, 31)), project=opened_aug)
    opened_sep = replace(PROJECT, opened_on=date(2023, 9, 1))
    refused("window_closed", nominate, date(2023, 9, 26), policy_in_force(book, PROVINCE, date(2023, 9, 26)),
            project=opened_sep)


def test_a_correction_of_a_version_replaces_it_and_an_identical_repeat_records_nothing():
    first = version(PROVINCE, date(2023, 1, 1), nomination_window_days=25)
    (published,) = decide_publish((), first, date(2022, 12, 1))
    state = evolve_policy((), *published)
    assert decide_publish(state, first, date(2022, 12, 2)) == []
    corrected = version(PROVINCE, date(2023, 1, 1), nomination_window_days=30)
    (correction,) = decide_publish(state, corrected, date(2022, 12, 3))
    state = evolve_policy(state, *correction)
    assert [v.nomination_window_days for v in state] == [30]
    assert policy_in_force(state, COUNTY, date(2023, 6, 1)).nomination_window_days == 30


def test_a_version_round_trips_through_its_event():
    v = version(PROVINCE, date(2023, 1, 1), nomination_window_days=None, bar_years=2, plan_lead_days=15,
                nomination_window_levels=frozenset({"national", "county"}),
                min_practical_ratio=0.6, ethics_module_kind=None, single_year_end=(12, 31),
                cross_year_first_year_end=(12, 15), cross_year_span_years=3, max_project_hours=500.0,
                no_repeat_category=False, cross_year_exempt_from_repeat=False)
    assert policy_from_data(policy_to_data(v)) == v


@pytest.mark.parametrize(("fields", "code"), [
    ({"nomination_window_days": 0}, "invalid_policy"), ({"plan_lead_days": -1}, "invalid_policy"),
    ({"min_practical_ratio": 1.5}, "invalid_policy"), ({"cross_year_span_years": 0}, "invalid_policy"),
    ({"single_year_end": (2, 30)}, "invalid_policy"), ({"bar_years": 11}, "invalid_policy"),
    ({"max_project_hours": 0.0}, "invalid_policy"),
    ({"nomination_window_levels": frozenset({"galactic"})}, "invalid_policy"),
])
def test_a_version_with_impossible_values_is_refused(fields, code):
    refused(code, decide_publish, (), version(PROVINCE, date(2023, 1, 1), **fields), date(2023, 1, 1))


def test_only_a_province_city_or_county_code_publishes():
    refused("invalid_jurisdiction", decide_publish, (), version("610102001", date(2023, 1, 1)), date(2023, 1, 1))
    refused("invalid_jurisdiction", decide_publish, (), version("000000", date(2023, 1, 1)), date(2023, 1, 1))


# Each field decides (the default, then a province's own value)

def test_nomination_window_the_20th_day_after_the_notice_is_in_and_the_21st_out_by_default():
    assert nominate(NOTICE + timedelta(days=20))
    refused("window_closed", nominate, NOTICE + timedelta(days=21))


def test_nomination_window_binds_national_projects_by_default_and_the_levels_a_province_names():
    provincial = replace(PROJECT, level="provincial")
    assert nominate(NOTICE + timedelta(days=60), project=provincial)  # 004 is the 国培 notice
    wider = version(PROVINCE, date(2023, 1, 1), nomination_window_levels=frozenset({"national", "provincial"}))
    refused("window_closed", nominate, NOTICE + timedelta(days=21), wider, project=provincial)


def test_nomination_window_a_province_may_widen_it_or_set_none():
    wider = version(PROVINCE, date(2023, 1, 1), nomination_window_days=30)
    assert nominate(NOTICE + timedelta(days=30), wider)
    refused("window_closed", nominate, NOTICE + timedelta(days=31), wider)
    assert nominate(NOTICE + timedelta(days=200), version(PROVINCE, date(2023, 1, 1), nomination_window_days=None))


def test_a_replacement_after_the_window_still_passes():
    state = d.evolve(d.INITIAL, "TeacherNominated", {
        "enrollment_id": "e-1", "project_id": "p-1", "teacher_id": "t-1", "region_code": COUNTY,
        "level": "national", "category": "c", "year": 2023})
    events = decide_replacement(state, teacher_id="t-2", project=PROJECT, candidate=CLEAN)
    assert [t for t, _ in events] == ["NomineeReplaced"]  # decide_replacement takes no date: no window


def test_bar_years_three_years_by_default_and_a_province_may_set_fewer():
    started = replace(PROJECT, status="started")
    state = d.evolve(d.INITIAL, "TeacherNominated", {
        "enrollment_id": "e-1", "project_id": "p-1", "teacher_id": "t-1", "region_code": COUNTY,
        "level": "national", "category": "c", "year": 2023})
    (_, default), = d.decide_no_show(state, special_reason=False, project=started)
    two = version(PROVINCE, date(2023, 1, 1), bar_years=2)
    (_, provincial), = d.decide_no_show(state, special_reason=False, project=started, rules=two.selection,
                                        policy_label=two.label)
    assert (default["barred_from_year"], default["barred_until_year"], default["policy"]) == (2024, 2026, "default")
    assert (provincial["barred_until_year"], provincial["policy"]) == (2025, "610000@2023-01-01")


def test_no_repeat_category_by_default_and_a_province_may_allow_repeats():
    refused("category_repeat", nominate, NOTICE, candidate=ATTENDED_C)
    assert nominate(NOTICE, version(PROVINCE, date(2023, 1, 1), no_repeat_category=False), candidate=ATTENDED_C)


def test_cross_year_projects_exempt_from_the_repeat_rule_unless_the_province_says_otherwise():
    # 004 §3.1, read narrowly (issue 20): the exemption continues cross-year training of c.
    cross = replace(PROJECT, cross_year=True)
    continuing = replace(CLEAN, history=replace(ATTENDED_C.history, continuing_categories=frozenset({"c"})))
    assert nominate(NOTICE, candidate=continuing, project=cross)
    refused("category_repeat", nominate, NOTICE, candidate=ATTENDED_C, project=cross)  # c attended single-year
    strict = version(PROVINCE, date(2023, 1, 1), cross_year_exempt_from_repeat=False)
    refused("category_repeat", nominate, NOTICE, strict, continuing, cross)


def test_a_nomination_and_a_replacement_name_the_version_they_were_decided_under():
    v = version(PROVINCE, date(2023, 1, 1), nomination_window_days=30)
    ((_, nominated),) = nominate(NOTICE, v)
    assert nominated["policy"] == "610000@2023-01-01"
    state = d.evolve(d.INITIAL, "TeacherNominated", nominated)
    ((_, replaced),) = decide_replacement(state, teacher_id="t-2", project=PROJECT, candidate=CLEAN, policy=v)
    assert replaced["policy"] == "610000@2023-01-01"


# The project rules as a province's data

START = date(2025, 7, 1)
PLAN = p.DraftProject(
    project_id="p-9", code="GP2025-9", name="培训", level="national", category="c", year=2025, host_id=None,
    organizer_code=COUNTY, hours=30, hour_category="centralized", starts_on=START, ends_on=date(2025, 7, 10),
    cross_year=False, practical_ratio=0.5, modules=(p.Module("师德", 6, False, "ethics"),))
FACTS = DraftFacts(organizer_known=True, host_known=True, code_taken=False)


def drafted_state(plan: p.DraftProject) -> p.ProjectState:
    return p.evolve(p.ProjectState(), *p.decide_draft(p.ProjectState(), plan)[0])


def submit(plan: p.DraftProject, on: date, rules: ProjectRules = DEFAULT_POLICY.projects):
    return p.decide_submit_plan(drafted_state(plan), on, rules, "x")


def test_plan_lead_days_ten_by_default_and_a_province_may_ask_more():
    assert submit(PLAN, START - timedelta(days=10))
    fifteen = replace(DEFAULT_POLICY.projects, plan_lead_days=15)
    refused("plan_late", submit, PLAN, START - timedelta(days=10), fifteen)
    assert submit(PLAN, START - timedelta(days=15), fifteen)


def test_min_practical_ratio_half_by_default_and_a_province_may_ask_more():
    assert submit(PLAN, START - timedelta(days=10))
    refused("practical_share_low", submit, PLAN, START - timedelta(days=10),
            replace(DEFAULT_POLICY.projects, min_practical_ratio=0.6))


def test_ethics_module_required_by_default_and_a_province_may_not_require_it():
    bare = replace(PLAN, modules=(p.Module("课堂", 30, True, "practice"),))
    refused("ethics_module_missing", submit, bare, START - timedelta(days=10))
    assert submit(bare, START - timedelta(days=10), replace(DEFAULT_POLICY.projects, ethics_module_kind=None))


def test_single_year_end_20_december_by_default_and_a_province_may_set_its_own():
    late = replace(PLAN, starts_on=date(2025, 12, 1), ends_on=date(2025, 12, 28))
    refused("ends_after_dec_20", decide_new_project, p.ProjectState(), late, FACTS)
    year_end = replace(DEFAULT_POLICY.projects, single_year_end=(12, 31))
    ((_, data),) = decide_new_project(p.ProjectState(), late, FACTS, year_end, "610102@2025-01-01")
    assert data["policy"] == "610102@2025-01-01"


def test_cross_year_first_year_end_and_span_from_the_policy():
    cross = replace(PLAN, cross_year=True, first_year_ends_on=date(2025, 12, 10), ends_on=date(2027, 6, 30))
    refused("first_year_after_nov_30", decide_new_project, p.ProjectState(), cross, FACTS)
    later = replace(DEFAULT_POLICY.projects, cross_year_first_year_end=(12, 15))
    refused("exceeds_two_years", decide_new_project, p.ProjectState(), cross, FACTS, later)
    three = replace(later, cross_year_span_years=3)
    assert decide_new_project(p.ProjectState(), cross, FACTS, three)


def test_max_project_hours_from_the_policy():
    long = replace(PLAN, hours=600)
    assert decide_new_project(p.ProjectState(), long, FACTS)
    refused("hours_out_of_range", decide_new_project, p.ProjectState(), long, FACTS,
            replace(DEFAULT_POLICY.projects, max_project_hours=500.0))


def test_selection_rules_dataclass_defaults_are_the_seed_values():
    # The national default is seed 004's, each value cited in selection.py and rules.py.
    assert (SelectionRules().bar_years, SelectionRules().no_repeat_category) == (3, True)
    assert (DEFAULT_POLICY.nomination_window_days, DEFAULT_POLICY.projects.plan_lead_days) == (20, 10)



# Issue 20: 004 §3.2's calendar binds the levels the policy names (national by default)

def test_given_a_school_based_course_from_september_to_june_when_drafted_then_accepted():
    school = replace(PLAN, level="school", cross_year=True, starts_on=date(2025, 9, 1), ends_on=date(2026, 6, 30))
    ((kind, _),) = decide_new_project(p.ProjectState(), school, FACTS)
    assert kind == "ProjectDrafted"


def test_given_a_course_ending_28_december_then_a_county_one_is_accepted_and_a_national_one_refused():
    ending = dict(starts_on=date(2025, 12, 1), ends_on=date(2025, 12, 28))
    assert decide_new_project(p.ProjectState(), replace(PLAN, level="county", **ending), FACTS)
    refused("ends_after_dec_20", decide_new_project, p.ProjectState(), replace(PLAN, level="national", **ending), FACTS)
    # A province that binds its county courses to the calendar too says so in its policy.
    strict = replace(DEFAULT_POLICY.projects, calendar_levels=frozenset({"national", "county"}))
    refused("ends_after_dec_20", decide_new_project, p.ProjectState(), replace(PLAN, level="county", **ending), FACTS,
            strict)


def test_given_a_county_course_when_its_plan_comes_three_days_before_start_then_it_is_submitted():
    county = replace(PLAN, level="county")
    assert submit(county, START - timedelta(days=3))
    refused("plan_late", submit, county, START)  # but before it starts
    refused("plan_late", submit, PLAN, START - timedelta(days=3))  # a 国培 plan: 10 days ahead


def test_the_host_duties_are_policy_data_and_round_trip():
    # 004 §3.3 (bulletins, close-out, cases, course videos) and the ranking weights (004 §4.2, ours).
    from decimal import Decimal

    from services.enrollment.domain.policy import HostDuties
    duties = HostDuties(bulletin_due_days=20, short_project_max_days=7, short_project_min_bulletins=1,
                        long_project_min_bulletins=2, long_project_max_bulletins=4, close_out_days=45,
                        close_out_min_cases=2, close_out_min_course_videos=3,
                        ranking_weights=(Decimal("0.5"), Decimal("0.3"), Decimal("0.2")))
    v = replace(version(PROVINCE, date(2023, 1, 1)), hosts=duties)
    assert policy_from_data(policy_to_data(v)) == v
    refused("invalid_policy", decide_publish, (), replace(v, hosts=replace(duties, long_project_max_bulletins=1)),
            date(2023, 1, 1))
    refused("invalid_policy", decide_publish, (), replace(v, hosts=replace(
        duties, ranking_weights=(Decimal("0.5"), Decimal("0.5"), Decimal("0.2")))), date(2023, 1, 1))
