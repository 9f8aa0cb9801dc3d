"""Funding compliance end to end: the real enrollment, funding and reporting apps in one process
on one bus namespace. Orgs are registered with enrollment, the money moves through funding's API,
and reporting — from funding's events on NATS — gives every org the verdicts funding gives it.

Issue 20's acceptance: a school that budgeted 5% and has spent nothing is compliant on set-aside
and shows its spending separately; an org with no budget is listed as undeclared (未申报)."""

from __future__ import annotations

import pytest

from tests.funding.given import assessed
from tests.reporting.given import at_head, ok

PROVINCE, CITY, DISTRICT, OTHER = "330000", "330100", "330106", "330108"
S1, S2, S3, S4, S5 = "330106001", "330106002", "330106003", "330108001", "330108002"
ORGS = [(PROVINCE, "浙江省", "province", None), (CITY, "杭州市", "city", PROVINCE),
        (DISTRICT, "西湖区", "county", CITY), (OTHER, "滨江区", "county", CITY), (S1, "西湖一小", "school", DISTRICT),
        (S2, "西湖二小", "school", DISTRICT), (S3, "西湖三小", "school", DISTRICT), (S4, "滨江一小", "school", OTHER),
        (S5, "滨江二小", "school", OTHER)]


@pytest.fixture(scope="module")
async def world(enrollment_app, funding_app, reporting_app, as_enrollment, as_funding):
    province = as_enrollment("province_admin", PROVINCE)
    for code, name, kind, parent in ORGS:
        await ok(await province.put(f"/v1/orgs/{code}", json={"name": name, "kind": kind, "parent_code": parent}),
                 201)
    await at_head(funding_app, enrollment_app, "funding_directory")
    district, other = as_funding("county_admin", DISTRICT), as_funding("county_admin", OTHER)
    await ok(await district.put(f"/v1/policies/{DISTRICT}", json={  # 002 §4.2.2
        "effective_from": "2014-01-01", "school_public_funds_share": "0.10", "district_payroll_share_min": "0.03",
        "pass_down_min": "0.70"}), 201)
    await ok(await other.put(f"/v1/policies/{OTHER}", json={  # Jiyuan-like (003 §5.2): 5%, payroll 1.5%–2.5%
        "effective_from": "2015-01-01", "school_public_funds_share": "0.05", "district_payroll_share_min": "0.015",
        "district_payroll_share_max": "0.025"}), 201)
    # What each sets aside: the district 3% of payroll, OTHER 3% (above its 2.5% guide), the district's
    # schools just at / below / above 10% of their public funds, S4 exactly 5%; S5 declares nothing.
    budgets = {DISTRICT: (0, 100_000_000, 3_000_000), OTHER: (0, 10_000_000, 300_000)}
    budgets |= {s: (1_000_000, 0, t) for s, t in ((S1, 100_000), (S2, 99_999), (S3, 100_001), (S4, 50_000))}
    for code, (public, payroll, training) in budgets.items():
        admin = as_funding("county_admin" if len(code) == 6 else "school_admin", code)
        await ok(await admin.put(f"/v1/orgs/{code}/budgets/2023", json={
            "public_funds_budget_fen": public, "payroll_fen": payroll, "training_budget_fen": training}), 201)
    for school in (S1, S2, S3):
        await ok(await district.post("/v1/allocations", json={"from_code": DISTRICT, "to_code": school, "year": 2023,
                                                              "amount_fen": 700_000}), 201)
    for school, amount in ((S1, 100_000), (S2, 99_999), (S3, 100_001), (S3, 5)):
        doc = await ok(await as_funding("school_admin", school).post("/v1/disbursements", json={
            "org_code": school, "year": 2023, "amount_fen": amount, "purpose": "培训资料"}), 201)
    await ok(await as_funding("school_admin", S3).post(  # the 5 fen back: S3 spends 100,001 (10.0001%)
        f"/v1/disbursements/{doc['disbursement_id']}/reverse", json={"reason": "多付"}))
    await assessed(funding_app.state.pool)  # funding's verdicts, published in reaction, are all out
    await at_head(reporting_app, funding_app, "reporting_funding")
    await at_head(reporting_app, enrollment_app, "reporting_directory")


async def test_reporting_gives_every_org_the_verdicts_funding_gives(world, as_funding, as_role):
    doc = await ok(await as_role("city_admin", CITY).get("/v1/reports/funding", params={"year": 2023}))
    ours = {o["org_code"]: o for o in doc["items"]}
    assert set(ours) == {CITY, DISTRICT, OTHER, S1, S2, S3, S4, S5}  # every registered org of the city
    for code, o in ours.items():
        theirs = await ok(await as_funding("service").get(f"/v1/orgs/{code}/funding", params={"year": 2023}))
        assert (o["compliant"], o["status"], o["declared"]) == (
            theirs["compliant"], theirs["status"], theirs["budget"]["declared"]), code
        if o["declared"]:
            assert [(r["rule"], r["ratio"], r["compliant"]) for r in o["rules"]] == [
                (r["rule"], r["ratio"], r["compliant"]) for r in theirs["rules"]], code
        assert (o["spent_fen"] or 0) == theirs["spent_fen"], code
    assert [ours[c]["compliant"] for c in (S1, S2, S3, S4, DISTRICT, OTHER)] == [True, False, True, True, True, True]
    assert doc["summary"]["school"] == {"undeclared": 1, "compliant": 3, "not_compliant": 1, "not_judged": 0,
                                        "compliance_rate": "0.7500"}
    # 003 §5.2: OTHER budgets 3% of payroll, above the 2.5% guide: compliant, with the guide shown.
    [payroll] = ours[OTHER]["rules"]
    assert (payroll["compliant"], payroll["guide_max"], payroll["above_guide"], payroll["notice"]) == (
        True, "0.025", True, "高于指导比例上限2.5%（仍达标）")


async def test_a_school_that_set_aside_five_percent_and_spent_nothing_complies_and_an_org_without_a_budget_is_listed(
        world, as_funding, as_role):
    """Issue 20's acceptance (001 §6.7; 003 §5.2: 按照年度公用经费预算总额的5%…安排教师培训经费)."""
    # Given S4 set aside 50,000 of its 1,000,000 fen public-funds budget and spent nothing; S5 declared nothing
    # When the city reads the funding report
    doc = await ok(await as_role("city_admin", CITY).get("/v1/reports/funding", params={"year": 2023}))
    ours = {o["org_code"]: o for o in doc["items"]}
    # Then S4 complies on the set-aside, and its spending (nothing yet) is shown apart, unjudged
    s4 = ours[S4]
    assert (s4["status"], s4["status_label"], s4["set_aside_share"], s4["funding_ratio"], s4["spent_fen"]) == (
        "compliant", "达标", "0.0500", "0.0000", 0)
    assert [(r["rule"], r["ratio"], r["compliant"], r["spending_share"]) for r in s4["rules"]] == [
        ("school_public_funds_share", "0.0500", True, "0.0000")]
    # And S5 is listed as undeclared (未申报), in funding's list and in reporting's
    assert (ours[S5]["declared"], ours[S5]["status"], ours[S5]["status_label"], ours[S5]["compliant"]) == (
        False, "undeclared", "未申报", None)
    funding = await ok(await as_funding("service").get("/v1/funding/orgs", params={"year": 2023,
                                                                                   "region_code": OTHER}))
    assert [(i["org_code"], i["status"]) for i in funding["items"]] == [
        (OTHER, "compliant"), (S4, "compliant"), (S5, "undeclared")]
