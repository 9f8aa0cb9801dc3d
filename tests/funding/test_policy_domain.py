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


@pytest.mark.parametrize("set_aside, flag", [(49_999, False), (50_000, True), (50_001, True)])
def test_a_schools_flag_flips_exactly_at_five_percent_of_its_budget_set_aside(set_aside, flag):
    """001 §6.7 (按照学校年度公用经费预算总额的5%安排): the share is judged on the training budget."""
    figures = Figures(public_funds_budget_fen=1_000_000, training_budget_fen=set_aside, declared=True)
    [verdict] = compliance.judge("school", figures, seed("jiangxi", "360000", "2018-03-06"))
    assert (verdict["compliant"], verdict["threshold_min"], verdict["source"]) == (flag, "0.05", "001 §6.7")


def test_a_school_that_set_aside_five_percent_and_spent_nothing_complies_and_shows_its_spending():
    """001 §6.7 and 003 §5.2: 5% of the public-funds budget is SET ASIDE (安排) for training; what
    has been spent is shown separately, with no verdict (issue 20)."""
    # Given a Jiyuan school that budgeted 50,000 of 1,000,000 fen for training and spent nothing
    p = seed("jiyuan", "419001", "2022-04-12")
    figures = Figures(public_funds_budget_fen=1_000_000, training_budget_fen=50_000, spent_fen=0, declared=True)
    # When it is judged
    [verdict] = compliance.judge("school", figures, p)
    # Then it complies on the set-aside, and its spending share is shown beside it, unjudged
    assert (verdict["rule"], verdict["ratio"], verdict["compliant"], verdict["source"]) == (
        "school_public_funds_share", "0.0500", True, "003 §5.2")
    assert verdict["spending_share"] == "0.0000" and "不作判定" in verdict["spending_label"]
    assert compliance.ratios(figures)["set_aside_share"] == "0.0500"
    assert compliance.ratios(figures)["funding_ratio"] == "0.0000"


def test_spending_alone_no_longer_meets_the_set_aside():
    """002 §4.2.2 (按照不低于学校年度日常公用经费总额10%的比例提取): a school that spent 10% (pass-down
    included) but set aside nothing of its own fails the set-aside; its spending is still shown."""
    p = seed("hangzhou_district", "330106", "2014-01-01")
    figures = Figures(public_funds_budget_fen=1_000_000, received_fen=100_000, spent_fen=100_000, declared=True)
    [verdict] = compliance.judge("school", figures, p)
    assert (verdict["ratio"], verdict["spending_share"], verdict["compliant"]) == ("0.0000", "0.1000", False)
    assert verdict["label"] == "培训经费预算占学校日常公用经费比例"


@pytest.mark.parametrize("training, flag, above", [(1_499_999, False, False), (1_500_000, True, False),
                                                   (2_500_000, True, False), (2_500_001, True, True),
                                                   (4_000_000, True, True)])
def test_jiyuans_payroll_floor_is_the_verdict_and_its_upper_figure_a_guide(training, flag, above):
    """003 §5.2 (按教职工工资总额的1.5%—2.5%足额安排): 1.5% is the floor; 2.5% guides and never fails."""
    # Given Jiyuan's policy and a district budgeting `training` of a 100,000,000 fen payroll
    figures = Figures(payroll_fen=100_000_000, training_budget_fen=training, declared=True)
    # When the district is judged
    [verdict] = compliance.judge("county", figures, seed("jiyuan", "419001", "2022-04-12"))
    # Then the floor decides, and the guide is shown with a notice above it
    assert (verdict["rule"], verdict["compliant"], verdict["threshold_min"], verdict["threshold_max"]) == (
        "district_payroll_share", flag, "0.015", None)
    assert (verdict["guide_max"], verdict["above_guide"]) == ("0.025", above)
    assert verdict["notice"] == ("高于指导比例上限2.5%（仍达标）" if above else None)


def test_a_floor_without_a_guide_shows_none():
    """002 §4.2.2 (不低于…3%): a floor only, no guide."""
    figures = Figures(payroll_fen=100, training_budget_fen=50, declared=True)
    [payroll, _] = compliance.judge("county", figures, seed("hangzhou_district", "330106", "2014-01-01"))
    assert (payroll["compliant"], payroll["guide_max"], payroll["above_guide"], payroll["notice"]) == (
        True, None, None, None)


def test_an_old_published_band_reads_as_a_floor_and_a_guide():
    """003 §5.2: a FundingPolicyPublished recorded before issue 20 (its `district_payroll_share_max`)
    is read unchanged; the max is now the guide."""
    old = {"jurisdiction_code": "419001", "effective_from": "2022-04-12", "school_share_basis": "public_funds_budget",
           "school_public_funds_share": "0.05", "district_payroll_share_min": "0.015",
           "district_payroll_share_max": "0.025", "pass_down_min": None,
           "sources": {"school_public_funds_share": "003 §5.2", "district_payroll_share": "003 §5.2",
                       "pass_down_share": "002 §4.2.2"}}
    p = given(("FundingPolicyPublished", old))[date(2022, 4, 12)]
    [verdict] = compliance.judge("county", Figures(payroll_fen=100, training_budget_fen=3, declared=True), p)
    assert (verdict["compliant"], verdict["guide_max"], verdict["above_guide"]) == (True, "0.025", True)


@pytest.mark.parametrize("declared, flag, status, label", [
    (False, None, "undeclared", "未申报"), (True, True, "compliant", "达标"),
    (True, False, "not_compliant", "未达标"), (True, None, "not_judged", "未评判")])
def test_an_org_that_declared_nothing_is_listed_as_undeclared(declared, flag, status, label):
    """DOMAIN.md "Funding" (001 §6.7; 002 §4.2.2; 003 §5.2 each ask every school and district to
    budget): an org with no declared budget is listed as 未申报, not left out (issue 20)."""
    assert compliance.status(declared, flag) == status and compliance.STATUS_LABELS[status] == label


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
