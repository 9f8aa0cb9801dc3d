"""Funding compliance as the funding service judges and publishes it (FundingAssessed), shown by reporting:
a Hangzhou-like district (002 §4.2.2: schools ≥ 10% of public funds, district ≥ 3% of payroll,
≥ 70% passed down) and a Jiyuan-like county (003 §5.2: a 1.5%–2.5% band), judged exactly at
the thresholds, with reversals and settlements moving spending."""

from __future__ import annotations

import uuid

import pytest

from tests.funding.given import Upstream, assessed
from tests.reporting.given import Given, at_head, ok, refused

PROVINCE, CITY, DISTRICT, BAND = "330000", "330100", "330106", "330108"
S1, S2, S3, S4 = "330106001", "330106002", "330106003", "330106004"


def _id() -> str:
    return str(uuid.uuid4())


def policy(code: str, effective_from: str, **shares) -> dict:
    return {"effective_from": effective_from, **shares}


@pytest.fixture(scope="module")
async def world(rpool, funding_app, as_funding, reporting_app):
    """The story of the module docstring, told to the real funding service through its API; reporting
    holds what funding publishes (FundingAssessed over NATS), and the org tree from enrollment."""
    orgs, upstream = Given(rpool), Upstream(funding_app.state.pool)  # enrollment's org events, to both
    for code, kind, parent in ((PROVINCE, "province", None), (CITY, "city", PROVINCE), (DISTRICT, "county", CITY),
                               (BAND, "county", CITY), (S1, "school", DISTRICT), (S2, "school", DISTRICT),
                               (S3, "school", DISTRICT), (S4, "school", DISTRICT)):
        org = {"code": code, "name": f"机构{code}", "kind": kind, "parent_code": parent}
        await orgs(f"org-{code}", ("OrgRegistered", org))
        await upstream.emit(f"org-{code}", "OrgRegistered", org)
    district, band = as_funding("county_admin", DISTRICT), as_funding("county_admin", BAND)
    await ok(await district.put(f"/v1/policies/{DISTRICT}", json=policy(
        DISTRICT, "2014-01-01", school_public_funds_share="0.10", district_payroll_share_min="0.03",
        pass_down_min="0.70")), 201)
    await ok(await band.put(f"/v1/policies/{BAND}", json=policy(
        BAND, "2015-01-01", district_payroll_share_min="0.015", district_payroll_share_max="0.025")), 201)
    # A later provincial version: not nearer than the district's, and not in force in 2023 anyway.
    await ok(await as_funding("province_admin", PROVINCE).put(f"/v1/policies/{PROVINCE}", json=policy(
        PROVINCE, "2024-01-01", school_public_funds_share="0.01")), 201)
    await ok(await district.put(f"/v1/orgs/{DISTRICT}/budgets/2023", json=budget(0, 100_000_000, 3_000_000)), 201)
    await ok(await band.put(f"/v1/orgs/{BAND}/budgets/2023", json=budget(0, 10_000_000, 300_000)), 201)  # 3% > 2.5%
    for school, set_aside in ((S1, 100_000), (S2, 99_999), (S3, 100_001)):  # at, below, above 10% (002 §4.2.2)
        await ok(await as_funding("school_admin", school).put(f"/v1/orgs/{school}/budgets/2023",
                                                              json=budget(1_000_000, 0, set_aside)), 201)
    for school in (S1, S2, S3, S4):  # 4 × 525,000 = 2,100,000 = 70% of the district's training budget
        await ok(await district.post("/v1/allocations", json={"from_code": DISTRICT, "to_code": school, "year": 2023,
                                                               "amount_fen": 525_000}), 201)
    spent = {}
    for school, amount in ((S1, 100_000), (S2, 99_999), (S3, 100_003), (S4, 50_000)):
        spent[school] = (await ok(await as_funding("school_admin", school).post("/v1/disbursements", json={
            "org_code": school, "year": 2023, "amount_fen": amount, "purpose": "培训资料"}), 201))["disbursement_id"]
    # S3 overpaid by 2 fen: the disbursement is reversed and made again right, 100,001 ≥ 10%.
    s3 = as_funding("school_admin", S3)
    await ok(await s3.post(f"/v1/disbursements/{spent[S3]}/reverse", json={"reason": "多付"}))
    await ok(await s3.post("/v1/disbursements", json={"org_code": S3, "year": 2023, "amount_fen": 100_001,
                                                      "purpose": "培训资料"}), 201)
    host = await upstream.host(PROVINCE)  # four participants from the district, settled at 50,000 each
    pid = await upstream.project(host, PROVINCE)
    for _ in range(4):
        await upstream.deliver(await upstream.checkin(pid, await upstream.teacher(S1), DISTRICT, host))
    await ok(await district.post("/v1/settlements", json={"project_id": pid, "county_code": DISTRICT,
                                                           "fee_per_participant_fen": 50_000}), 201)
    await assessed(funding_app.state.pool)  # funding's verdicts, published in reaction, are all out
    await at_head(reporting_app, funding_app, "reporting_funding")


def budget(public: int, payroll: int, training: int) -> dict:
    return {"public_funds_budget_fen": public, "payroll_fen": payroll, "training_budget_fen": training}


async def test_each_school_and_county_is_judged_at_its_threshold(world, as_role):
    doc = await ok(await as_role("city_admin", CITY).get("/v1/reports/funding", params={"year": 2023}))
    by_org = {o["org_code"]: o for o in doc["items"]}
    assert [(s, by_org[s]["funding_ratio"], by_org[s]["spent_fen"], by_org[s]["compliant"]) for s in (S1, S2, S3)] == [
        (S1, "0.1000", 100_000, True), (S2, "0.1000", 99_999, False), (S3, "0.1000", 100_001, True)]
    assert (by_org[S4]["declared"], by_org[S4]["compliant"], by_org[S4]["status"]) == (False, None, "undeclared")
    district = by_org[DISTRICT]
    assert (district["payroll_share"], district["pass_down_share"], district["spent_fen"]) == ("0.0300", "0.7000",
                                                                                              200_000)
    assert [(r["rule"], r["threshold_min"], r["compliant"]) for r in district["rules"]] == [
        ("district_payroll_share", "0.03", True), ("pass_down_share", "0.70", True)]
    band = by_org[BAND]  # 3% of payroll: above 003 §5.2's 2.5% guide, still compliant (the floor is 1.5%)
    assert [(r["rule"], r["ratio"], r["threshold_max"], r["guide_max"], r["above_guide"], r["compliant"])
            for r in band["rules"]] == [("district_payroll_share", "0.0300", None, "0.025", True, True)]
    assert band["jurisdiction_code"] == BAND and by_org[S1]["jurisdiction_code"] == DISTRICT
    assert doc["summary"] == {
        "school": {"undeclared": 1, "compliant": 2, "not_compliant": 1, "not_judged": 0, "compliance_rate": "0.6667"},
        "county": {"undeclared": 0, "compliant": 2, "not_compliant": 0, "not_judged": 0, "compliance_rate": "1.0000"}}
    assert (by_org[CITY]["status"], by_org[CITY]["status_label"], by_org[CITY]["rules"]) == ("undeclared", "未申报", [])


async def test_scope_paging_and_roles(world, as_role):
    school = await ok(await as_role("school_admin", S2).get("/v1/reports/funding", params={"year": 2023}))
    assert [o["org_code"] for o in school["items"]] == [S2]
    first = await ok(await as_role("service").get("/v1/reports/funding", params={"year": 2023, "limit": 2}))
    rest = await ok(await as_role("service").get("/v1/reports/funding", params={
        "year": 2023, "cursor": first["next_cursor"]}))
    assert [o["org_code"] for o in first["items"] + rest["items"]] == [PROVINCE, CITY, DISTRICT, S1, S2, S3, S4,
                                                                         BAND]
    assert rest["next_cursor"] is None
    # A year nobody declared: every registered org listed as undeclared (issue 20), nothing judged.
    empty = await ok(await as_role("service").get("/v1/reports/funding", params={"year": 2031}))
    assert {o["status"] for o in empty["items"]} == {"undeclared"} and len(empty["items"]) == 8
    assert empty["summary"]["school"] == {"undeclared": 4, "compliant": 0, "not_compliant": 0, "not_judged": 0,
                                          "compliance_rate": None}
    refused(await as_role("host", _id()).get("/v1/reports/funding", params={"year": 2023}), 403, "forbidden_role")
    # Finance (财务, issue 20) reads this report over its subtree, and no other report.
    finance = await ok(await as_role("finance", DISTRICT).get("/v1/reports/funding", params={"year": 2023}))
    assert [o["org_code"] for o in finance["items"]] == [DISTRICT, S1, S2, S3, S4]
    refused(await as_role("finance", BAND).get("/v1/reports/funding", params={
        "year": 2023, "region_code": DISTRICT}), 403, "out_of_scope")
    for path in ("/v1/reports/rates", "/v1/reports/hosts", "/v1/reports/regions"):
        refused(await as_role("finance", DISTRICT).get(path, params={"year": 2023}), 403, "forbidden_role")
    refused(await as_role("county_admin", BAND).get("/v1/reports/funding", params={
        "year": 2023, "region_code": DISTRICT}), 403, "out_of_scope")
