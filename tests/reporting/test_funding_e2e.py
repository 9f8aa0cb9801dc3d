"""Funding compliance end to end: the real enrollment, funding and reporting apps in one process
on one bus namespace. Orgs are registered with enrollment, the money moves through funding's API,
and reporting — from funding's events on NATS — gives every org the verdicts funding gives it."""

from __future__ import annotations

import pytest

from tests.funding.given import assessed
from tests.reporting.given import at_head, ok

PROVINCE, CITY, DISTRICT, OTHER = "330000", "330100", "330106", "330108"
S1, S2, S3, S4 = "330106001", "330106002", "330106003", "330108001"
ORGS = [(PROVINCE, "浙江省", "province", None), (CITY, "杭州市", "city", PROVINCE),
        (DISTRICT, "西湖区", "county", CITY), (OTHER, "滨江区", "county", CITY), (S1, "西湖一小", "school", DISTRICT),
        (S2, "西湖二小", "school", DISTRICT), (S3, "西湖三小", "school", DISTRICT), (S4, "滨江一小", "school", OTHER)]


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
    await ok(await other.put(f"/v1/policies/{OTHER}", json={  # a Jiyuan-like band (003 §5.2)
        "effective_from": "2015-01-01", "district_payroll_share_min": "0.015", "district_payroll_share_max": "0.025"}),
        201)
    budgets = {DISTRICT: (0, 100_000_000, 3_000_000), OTHER: (0, 10_000_000, 300_000)}
    budgets |= {s: (1_000_000, 0, 0) for s in (S1, S2, S3)}
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
    assert set(ours) == {DISTRICT, OTHER, S1, S2, S3}
    for code, o in ours.items():
        theirs = await ok(await as_funding("service").get(f"/v1/orgs/{code}/funding", params={"year": 2023}))
        assert o["compliant"] == theirs["compliant"], code
        assert [(r["rule"], r["ratio"], r["compliant"]) for r in o["rules"]] == [
            (r["rule"], r["ratio"], r["compliant"]) for r in theirs["rules"]], code
        assert o["spent_fen"] == theirs["spent_fen"], code
    assert [ours[c]["compliant"] for c in (S1, S2, S3, DISTRICT, OTHER)] == [True, False, True, True, False]
    assert doc["summary"]["school"] == {"compliant": 2, "not_compliant": 1, "not_judged": 0,
                                        "compliance_rate": "0.6667"}
