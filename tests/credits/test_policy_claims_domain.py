"""Policies, claims and revocations as deciders: Given events / When a command / Then events
(or a refusal with its code)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from services.credits.domain.claims import decide_approve, decide_claim, decide_reject, evolve_claim
from services.credits.domain.entries import decide_award, decide_revoke, evolve_award
from services.credits.domain.policies import decide_publish, evolve_policy, policy_from_data, policy_to_data
from services.credits.domain.policy import Category, to_hours
from shared.calendar import school_year_bounds, school_year_of, year_label
from shared.orgs import chain, gbt_parent
from shared.refusal import Refused
from tests.credits.seeds import JIANGXI_2018, JIANGXI_2021, JIYUAN_2021

TODAY = date(2023, 10, 8)
T = "7d3c0f5e-1111-4a4a-9b9b-000000000001"


def refused(code: str, fn, *args, **kw) -> Refused:
    with pytest.raises(Refused) as exc:
        fn(*args, **kw)
    assert exc.value.code == code, exc.value
    return exc.value


def test_school_year_starts_on_1_september_unless_the_policy_counts_calendar_years():
    assert school_year_of(date(2024, 8, 31)) == 2023 and school_year_of(date(2024, 9, 1)) == 2024
    assert school_year_bounds(2023) == (date(2023, 9, 1), date(2024, 8, 31))
    assert school_year_of(date(2024, 8, 31), (1, 1)) == 2024


def test_publishing_a_version_a_repeat_and_a_correction():
    [(type_, data)] = decide_publish((), JIANGXI_2018, TODAY)
    assert type_ == "PolicyPublished" and data["hours_per_credit"] == 20 and data["published_on"] == "2023-10-08"
    state = evolve_policy((), type_, data)
    assert decide_publish(state, JIANGXI_2018, TODAY) == []  # identical: nothing to record
    corrected = replace(JIANGXI_2018, annual_hours=D(72))
    [(_, fix)] = decide_publish(state, corrected, TODAY)
    assert [p.annual_hours for p in evolve_policy(state, "PolicyPublished", fix)] == [D(72)]
    assert policy_from_data(policy_to_data(JIANGXI_2021)) == JIANGXI_2021


@pytest.mark.parametrize(("change", "code"), [
    ({"jurisdiction_code": "360102001"}, "invalid_jurisdiction"),
    ({"annual_hours": None, "cycle_hours": None}, "policy_targets_missing"),
    ({"hours_per_credit": D(0)}, "invalid_hours"),
    ({"cycle_years": 0}, "invalid_cycle"),
    ({"school_year_start": (2, 30)}, "invalid_school_year_start"),
    ({"categories": (Category("a", "A"), Category("a", "B"))}, "duplicate_category"),
    ({"categories": (Category("a", "A", D(50)), Category("b", "B", D(20)))}, "category_minimums_exceed_target"),
    ({"categories": (Category("public", "公需科目"),), "category_map": (("centralized", "professional"),)},
     "category_map_unknown_category"),
    ({"category_map": (("online", "public"),)}, "category_map_unknown_category"),  # no categories at all
])
def test_invalid_policies_are_refused_with_422(change, code):
    assert refused(code, decide_publish, (), replace(JIANGXI_2018, **change), TODAY).status == 422


def test_org_chain_falls_back_to_gbt_2260_shape():
    assert gbt_parent("419001") == "410000"  # 济源: a county-level unit directly under Henan
    assert chain("360102001", {}) == ["360102001", "360102", "360100", "360000"]
    assert chain("999001001", {"999001001": "999001", "999001": "990000"}) == ["999001001", "999001", "990000"]


COMPLETED = {"enrollment_id": "e1", "project_id": "p1", "teacher_id": T, "region_code": "360102", "host_id": "h1",
             "level": "provincial", "year": 2023, "hours": 90.0, "hour_category": "centralized",
             "completed_on": "2023-07-24"}


def test_a_completion_is_awarded_in_its_school_year_under_the_policy_in_force():
    [(type_, data)] = decide_award(COMPLETED, source_event_id="ev1", entry_id="en1", school_code="360102001",
                                   policy=JIANGXI_2018)
    assert type_ == "HoursAwarded"
    assert {k: data[k] for k in ("hours", "category", "school_year", "earned_on", "org_code", "jurisdiction_code")} == {
        "hours": 90, "category": "centralized", "school_year": 2022, "earned_on": "2023-07-24",
        "org_code": "360102001", "jurisdiction_code": "360000"}
    assert data["source"]["event_id"] == "ev1" and data["source"]["enrollment_id"] == "e1"
    assert decide_award({**COMPLETED, "hours": 0}, source_event_id="e", entry_id="x", school_code=None,
                        policy=None) == []


def test_a_july_national_completion_credits_the_school_year_before_its_project_year_and_both_are_named():
    """001 §5.4 (分学年登记) and 004 (the 2023年国培计划): Given a 国培 project of 2024, When its
    learner completes on 15 July 2024, Then the hours land in the 2023学年 (1 September 2023 –
    31 August 2024) while the source keeps the project's 2024, and each year says which it is."""
    july = {**COMPLETED, "level": "national", "year": 2024, "completed_on": "2024-07-15"}
    [(_, data)] = decide_award(july, source_event_id="ev9", entry_id="en9", school_code="360102001",
                               policy=JIANGXI_2018)
    assert (data["school_year"], data["source"]["project_year"]) == (2023, 2024)
    assert (year_label("school_year", 2023), year_label("project_year", 2024), year_label("budget_year", 2024)) == (
        "2023学年", "2024年度项目", "2024预算年度")
    assert year_label("school_year", 2024, (1, 1)) == "2024年"  # a province counting calendar years
    with pytest.raises(ValueError):
        year_label("year", 2024)


SPLIT = replace(JIANGXI_2018, categories=(Category("public", "公需科目", D(20)),
                                          Category("professional", "专业科目", D(40))),
                category_map=(("centralized", "professional"), ("online", "public")), version=3)


def test_a_completion_is_awarded_in_the_category_its_hour_category_maps_to_and_names_the_policy_version():
    [(_, data)] = decide_award(COMPLETED, source_event_id="ev1", entry_id="en1", school_code="360102001", policy=SPLIT)
    assert (data["category"], data["hour_category"], data["policy_version"]) == ("professional", "centralized", 3)
    [(_, online)] = decide_award({**COMPLETED, "hour_category": "online"}, source_event_id="ev2", entry_id="en2",
                                 school_code="360102001", policy=SPLIT)
    assert online["category"] == "public"


def test_an_unmapped_hour_category_keeps_its_own_name_as_before_mapping_existed():
    for policy, hour_category in ((SPLIT, "blended"), (JIANGXI_2018, "centralized"), (None, "workshop")):
        [(_, data)] = decide_award({**COMPLETED, "hour_category": hour_category}, source_event_id="e",
                                   entry_id="x", school_code=None, policy=policy)
        assert data["category"] == hour_category
    [(_, data)] = decide_award({**COMPLETED, "hour_category": None}, source_event_id="e", entry_id="x",
                               school_code=None, policy=SPLIT)
    assert data["category"] == "unspecified"


def test_the_category_map_round_trips_and_old_versions_without_one_map_nothing():
    assert policy_from_data(policy_to_data(SPLIT)) == SPLIT
    old = policy_to_data(JIANGXI_2018)
    del old["category_map"]  # a PolicyPublished recorded before the map existed
    assert policy_from_data(old).category_map == () and policy_from_data(old) == JIANGXI_2018
    state = evolve_policy((), *decide_publish((), SPLIT, TODAY)[0])
    assert decide_publish(state, SPLIT, TODAY) == []  # a repeat with the same map records nothing


def test_an_award_recorded_before_the_map_is_read_as_it_was():
    old = {"entry_id": "en0", "teacher_id": T, "hours": 90, "category": "centralized", "earned_on": "2023-07-24",
           "recorded_on": "2023-07-24", "school_year": 2022, "org_code": "360102001", "jurisdiction_code": "360000",
           "policy_effective_from": "2018-02-06", "source": {"type": "enrollment"}}
    entry = evolve_award(None, "HoursAwarded", old)
    assert entry is not None and entry.category == "centralized" and entry.hours == D(90)


def test_revoking_an_award_once():
    entry = evolve_award(None, *decide_award(COMPLETED, source_event_id="ev1", entry_id="en1",
                                             school_code="360102001", policy=JIANGXI_2018)[0])
    [(type_, data)] = decide_revoke(entry, reason="重复登记", today=TODAY)
    assert type_ == "EntryRevoked" and (data["hours"], data["school_year"], data["revoked_on"]) == (90, 2022,
                                                                                                   "2023-10-08")
    revoked = evolve_award(entry, type_, data)
    refused("entry_already_revoked", decide_revoke, revoked, reason="again", today=TODAY)
    refused("entry_not_found", decide_revoke, None, reason="x", today=TODAY)
    refused("reason_required", decide_revoke, entry, reason="  ", today=TODAY)


def claim(**kw):
    args = dict(claim_id="c1", teacher_id=T, org_code="419001001", hours=D(40), category="workshop",
                source="workshop", earned_on=date(2023, 3, 15), evidence="JY-WS-2023-017", today=TODAY,
                policy=JIYUAN_2021)
    return decide_claim(None, **{**args, **kw})


def test_a_claim_is_submitted_then_approved_into_an_entry():
    [submitted] = claim()
    state = evolve_claim(None, *submitted)
    assert state.status == "pending" and state.school_year == 2022 and state.as_entry() is None
    [(type_, data)] = decide_approve(state, today=TODAY)
    assert type_ == "ClaimApproved" and data["entry_id"] == "c1" and data["recorded_on"] == "2023-10-08"
    approved = evolve_claim(state, type_, data)
    assert approved.as_entry().hours == D(40)
    refused("claim_not_pending", decide_reject, approved, reason="late", today=TODAY)
    [(t, d)] = decide_revoke(approved.as_entry(), reason="证明材料不实", today=TODAY)
    assert evolve_claim(approved, t, d).as_entry().revoked


def test_a_claim_is_rejected_with_a_reason():
    state = evolve_claim(None, *claim()[0])
    refused("reason_required", decide_reject, state, reason=" ", today=TODAY)
    [(type_, data)] = decide_reject(state, reason="无证明材料", today=TODAY)
    assert evolve_claim(state, type_, data).status == "rejected"
    refused("claim_not_pending", decide_approve, evolve_claim(state, type_, data), today=TODAY)
    refused("claim_not_found", decide_approve, None, today=TODAY)


@pytest.mark.parametrize(("kw", "code"), [
    ({"hours": D(0)}, "hours_out_of_range"),
    ({"earned_on": date(2023, 10, 9)}, "earned_in_future"),
    ({"source": "rumour"}, "invalid_source"),
    ({"evidence": "身份证 36010219850301101X 复印件"}, "personal_data_in_evidence"),
    ({"evidence": "联系 13812345678"}, "personal_data_in_evidence"),
    ({"category": "public", "policy": replace(JIANGXI_2018, categories=(Category("professional", "专业"),))},
     "unknown_category"),
])
def test_invalid_claims_are_refused(kw, code):
    refused(code, claim, **kw)


def test_hours_are_tenths_never_floats():
    assert to_hours(90.0) == D("90.0") and to_hours("0.15") == D("0.2")
    refused("hours_precision", to_hours, "1.25", strict=True)
    refused("invalid_hours", to_hours, "nan")
