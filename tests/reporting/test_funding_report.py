"""Funding compliance carried from the funding stream (services/funding/events.py contracts):
a Hangzhou-like district (002 §4.2.2: schools ≥ 10% of public funds, district ≥ 3% of payroll,
≥ 70% passed down) and a Jiyuan-like county (003 §5.2: a 1.5%–2.5% band), judged exactly at
the thresholds, with reversals and settlements moving spending."""

from __future__ import annotations

import uuid

import pytest

from tests.reporting.given import Given, ok, refused

PROVINCE, CITY, DISTRICT, BAND = "330000", "330100", "330106", "330108"
S1, S2, S3, S4 = "330106001", "330106002", "330106003", "330106004"


def _id() -> str:
    return str(uuid.uuid4())


def policy(code: str, effective_from: str, **shares) -> dict:
    base = dict.fromkeys(("school_public_funds_share", "district_payroll_share_min", "district_payroll_share_max",
                          "pass_down_min"))
    return {"jurisdiction_code": code, "effective_from": effective_from, "school_share_basis": "public_funds_budget",
            "sources": {}, **base, **shares}


def budget(org: str, public: int, payroll: int, training: int) -> dict:
    return {"org_code": org, "year": 2023, "public_funds_budget_fen": public, "payroll_fen": payroll,
            "training_budget_fen": training}


@pytest.fixture(scope="module")
async def world(rpool):
    orgs = Given(rpool)
    for code, kind, parent in ((PROVINCE, "province", None), (CITY, "city", PROVINCE), (DISTRICT, "county", CITY),
                               (BAND, "county", CITY), (S1, "school", DISTRICT), (S2, "school", DISTRICT),
                               (S3, "school", DISTRICT), (S4, "school", DISTRICT)):
        await orgs(f"org-{code}", ("OrgRegistered", {"code": code, "name": f"机构{code}", "kind": kind,
                                                     "parent_code": parent}))
    given = Given(rpool, source="/funding")
    await given(f"policy-{DISTRICT}", ("FundingPolicyPublished", policy(
        DISTRICT, "2014-01-01", school_public_funds_share="0.10", district_payroll_share_min="0.03",
        pass_down_min="0.70")))
    await given(f"policy-{BAND}", ("FundingPolicyPublished", policy(
        BAND, "2015-01-01", district_payroll_share_min="0.015", district_payroll_share_max="0.025")))
    # A later provincial version: not nearer than the district's, and not in force in 2023 anyway.
    await given(f"policy-{PROVINCE}", ("FundingPolicyPublished", policy(PROVINCE, "2024-01-01",
                                                                          school_public_funds_share="0.01")))
    await given(f"account-{DISTRICT}", ("BudgetDeclared", budget(DISTRICT, 0, 100_000_000, 3_000_000)))
    await given(f"account-{BAND}", ("BudgetDeclared", budget(BAND, 0, 10_000_000, 300_000)))  # 3% > 2.5%
    for school in (S1, S2, S3):
        await given(f"account-{school}", ("BudgetDeclared", budget(school, 1_000_000, 0, 0)))
    for school in (S1, S2, S3, S4):  # 4 × 525,000 = 2,100,000 = 70% of the district's training budget
        await given(f"allocation-{_id()}", ("FundsAllocated", {"allocation_id": _id(), "from_code": DISTRICT,
                                                               "to_code": school, "year": 2023, "amount_fen": 525_000}))
    for school, amount in ((S1, 100_000), (S2, 99_999), (S3, 100_003), (S4, 50_000)):
        await given(f"disbursement-{_id()}", ("FundsDisbursed", {
            "disbursement_id": _id(), "org_code": school, "year": 2023, "project_id": None, "host_id": None,
            "amount_fen": amount, "purpose": "培训资料"}))
    await given(f"reversal-{_id()}", ("FundsReversed", {  # S3 gives 2 fen back: 100,001 ≥ 10%
        "reversal_id": _id(), "entry_id": _id(), "entry_kind": "disbursement", "org_code": S3, "to_code": None,
        "year": 2023, "project_id": None, "host_id": None, "amount_fen": 2, "purpose": "培训资料", "reason": "多付"}))
    await given(f"settlement-{_id()}", ("SettlementCalculated", {
        "settlement_id": _id(), "project_id": _id(), "county_code": DISTRICT, "host_id": _id(), "year": 2023,
        "participants": 4, "fee_per_participant_fen": 50_000, "amount_fen": 200_000, "previously_settled_fen": 0,
        "delta_fen": 200_000, "derivation": "4 × 50000", "counted_from": "TeacherCheckedIn"}))


async def test_each_school_and_county_is_judged_at_its_threshold(world, as_role):
    doc = await ok(await as_role("city_admin", CITY).get("/v1/reports/funding", params={"year": 2023}))
    by_org = {o["org_code"]: o for o in doc["items"]}
    assert [(s, by_org[s]["funding_ratio"], by_org[s]["spent_fen"], by_org[s]["compliant"]) for s in (S1, S2, S3)] == [
        (S1, "0.1000", 100_000, True), (S2, "0.1000", 99_999, False), (S3, "0.1000", 100_001, True)]
    assert by_org[S4]["declared"] is False and by_org[S4]["compliant"] is None  # no budget declared: not judged
    district = by_org[DISTRICT]
    assert (district["payroll_share"], district["pass_down_share"], district["spent_fen"]) == ("0.0300", "0.7000",
                                                                                              200_000)
    assert [(r["rule"], r["threshold_min"], r["compliant"]) for r in district["rules"]] == [
        ("district_payroll_share", "0.03", True), ("pass_down_share", "0.70", True)]
    band = by_org[BAND]
    assert [(r["rule"], r["ratio"], r["threshold_max"], r["compliant"]) for r in band["rules"]] == [
        ("district_payroll_share", "0.0300", "0.025", False)]
    assert band["jurisdiction_code"] == BAND and by_org[S1]["jurisdiction_code"] == DISTRICT
    assert doc["summary"] == {
        "school": {"compliant": 2, "not_compliant": 1, "not_judged": 1, "compliance_rate": "0.6667"},
        "county": {"compliant": 1, "not_compliant": 1, "not_judged": 0, "compliance_rate": "0.5000"}}


async def test_scope_paging_and_roles(world, as_role):
    school = await ok(await as_role("school_admin", S2).get("/v1/reports/funding", params={"year": 2023}))
    assert [o["org_code"] for o in school["items"]] == [S2]
    first = await ok(await as_role("service").get("/v1/reports/funding", params={"year": 2023, "limit": 2}))
    rest = await ok(await as_role("service").get("/v1/reports/funding", params={
        "year": 2023, "cursor": first["next_cursor"]}))
    assert [o["org_code"] for o in first["items"] + rest["items"]] == [DISTRICT, S1, S2, S3, S4, BAND]
    assert rest["next_cursor"] is None
    empty = await ok(await as_role("service").get("/v1/reports/funding", params={"year": 2031}))
    assert empty["items"] == [] and empty["summary"]["school"]["compliance_rate"] is None
    refused(await as_role("host", _id()).get("/v1/reports/funding", params={"year": 2023}), 403, "forbidden_role")
    refused(await as_role("county_admin", BAND).get("/v1/reports/funding", params={
        "year": 2023, "region_code": DISTRICT}), 403, "out_of_scope")
