"""Funding policy and compliance rules, pure (no database): Given events / When command / Then
events, and the exact arithmetic of ratios and thresholds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.funding.domain import compliance, policy
from services.funding.domain.compliance import Figures
from services.funding.domain.policy import SEED_POLICIES, FundingPolicy
from shared.refusal import Refused


def given(*events) -> policy.Versions:
    state: policy.Versions = {}
    for type_, data in events:
        state = policy.evolve(state, type_, data)
    return state


def seed(name: str, code: str, on: str) -> FundingPolicy:
    return FundingPolicy(code, date.fromisoformat(on), **SEED_POLICIES[name])


def test_publishing_records_shares_as_exact_decimal_strings_with_their_sources():
    events = policy.decide_publish({}, seed("jiyuan", "419001", "2022-04-12"), "county")
    assert events == [("FundingPolicyPublished", {
        "jurisdiction_code": "419001", "effective_from": "2022-04-12", "school_share_basis": "public_funds_budget",
        "school_public_funds_share": "0.05", "district_payroll_share_min": "0.015",
        "district_payroll_share_max": "0.025", "pass_down_min": None,
        "sources": {"school_public_funds_share": "003 §5.2", "district_payroll_share": "003 §5.2",
                    "pass_down_share": "002 §4.2.2"}})]
    assert policy.to_data(policy.from_data(events[0][1])) == events[0][1]


def test_republishing_the_same_version_records_nothing_and_a_correction_is_a_new_event():
    v1 = seed("jiangxi", "360000", "2018-03-06")
    state = given(*policy.decide_publish({}, v1, "province"))
    assert policy.decide_publish(state, v1, "province") == []
    corrected = FundingPolicy("360000", date(2018, 3, 6), Decimal("0.06"))
    [(_, data)] = policy.decide_publish(state, corrected, "province")
    assert policy.evolve(state, "FundingPolicyPublished", data)[date(2018, 3, 6)].school_public_funds_share == \
        Decimal("0.06")


@pytest.mark.parametrize("wanted, kind, code", [
    (FundingPolicy("360000", date(2020, 1, 1)), "province", "empty_policy"),
    (FundingPolicy("360000", date(2020, 1, 1), Decimal("0")), "province", "invalid_share"),
    (FundingPolicy("360000", date(2020, 1, 1), Decimal("1.01")), "province", "invalid_share"),
    (FundingPolicy("419001", date(2020, 1, 1), district_payroll_share_min=Decimal("0.03"),
                   district_payroll_share_max=Decimal("0.02")), "county", "invalid_band"),
    (FundingPolicy("419001", date(2020, 1, 1), district_payroll_share_max=Decimal("0.02")), "county", "invalid_band"),
    (FundingPolicy("360102001", date(2020, 1, 1), Decimal("0.05")), "school", "invalid_jurisdiction"),
    (FundingPolicy("360000", date(2020, 1, 1), Decimal("0.05"), sources={"x": "y"}), "province", "invalid_sources"),
])
def test_bad_policies_are_refused(wanted, kind, code):
    with pytest.raises(Refused) as exc:
        policy.decide_publish({}, wanted, kind)
    assert (exc.value.code, exc.value.status) == (code, 422)


def test_the_nearest_jurisdiction_with_a_version_in_force_applies():
    province = [FundingPolicy("330000", date(2010, 1, 1), Decimal("0.05")),
                FundingPolicy("330000", date(2025, 1, 1), Decimal("0.08"))]
    district = [FundingPolicy("330106", date(2014, 1, 1), Decimal("0.10"))]
    versions = {"330000": province, "330106": district}
    chain = ["330106001", "330106", "330100", "330000"]
    assert policy.applicable(chain, versions, date(2013, 12, 31)) == province[0]
    assert policy.applicable(chain, versions, date(2014, 1, 1)) == district[0]
    assert policy.applicable(["330108001", "330108", "330100", "330000"], versions, date(2025, 1, 1)) == province[1]
    assert policy.applicable(["360102001"], versions, date(2025, 1, 1)) is None


@pytest.mark.parametrize("num, den, shown", [
    (1, 3, "0.3333"), (2, 3, "0.6667"), (5, 100_000, "0.0000"), (15, 100_000, "0.0002"),  # 0.00015 → even 2
    (25, 100_000, "0.0002"), (35, 100_000, "0.0004"), (99_999, 1_000_000, "0.1000"), (3, 1, "3.0000"),
    (7, 0, None),
])
def test_ratios_round_half_even_to_four_places_with_integers_only(num, den, shown):
    assert compliance.ratio(num, den) == shown


@pytest.mark.parametrize("spent, flag", [(49_999, False), (50_000, True), (50_001, True)])
def test_a_schools_flag_flips_exactly_at_five_percent(spent, flag):
    figures = Figures(public_funds_budget_fen=1_000_000, spent_fen=spent, declared=True)
    [verdict] = compliance.judge("school", figures, seed("jiangxi", "360000", "2018-03-06"))
    assert (verdict["compliant"], verdict["threshold_min"], verdict["source"]) == (flag, "0.05", "001 §6.7")


@pytest.mark.parametrize("training, flag", [(1_499_999, False), (1_500_000, True), (2_500_000, True),
                                            (2_500_001, False)])
def test_jiyuans_payroll_band_includes_both_ends(training, flag):
    figures = Figures(payroll_fen=100_000_000, training_budget_fen=training, declared=True)
    verdicts = compliance.judge("county", figures, seed("jiyuan", "419001", "2022-04-12"))
    assert [(v["rule"], v["compliant"]) for v in verdicts] == [("district_payroll_share", flag)]


def test_the_same_figures_meet_jiyuans_rules_and_miss_hangzhous():
    figures = Figures(payroll_fen=100_000_000, training_budget_fen=2_000_000, allocated_fen=1_000_000, declared=True)
    jiyuan = compliance.judge("county", figures, seed("jiyuan", "419001", "2022-04-12"))
    hangzhou = compliance.judge("county", figures, seed("hangzhou_district", "330106", "2014-01-01"))
    assert compliance.compliant(jiyuan) is True and compliance.compliant(hangzhou) is False
    assert [v["rule"] for v in hangzhou] == ["district_payroll_share", "pass_down_share"]


def test_nothing_is_judged_without_a_declared_budget_or_a_base():
    p = seed("hangzhou_district", "330106", "2014-01-01")
    assert compliance.judge("school", Figures(spent_fen=5), p)[0]["compliant"] is None
    undeclared = compliance.judge("county", Figures(declared=True), p)
    assert [v["compliant"] for v in undeclared] == [None, None] and compliance.compliant(undeclared) is None
    assert compliance.judge("city", Figures(declared=True, payroll_fen=1), p) == []
    assert compliance.judge("school", Figures(declared=True), None) == []
