"""Funding policies on the real app: publication per jurisdiction, versions by date, exact
decimal shares — and the same figures judged differently under two jurisdictions' policies
(acceptance 4): Jiyuan (003 §5.2: schools 5%, payroll 1.5%–2.5%) against a Hangzhou district
(002 §4.2.2: schools 10% of daily public funds, payroll ≥ 3%, ≥ 70% passed down)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.funding.given import Upstream, ok, refused, written

JIYUAN = {"effective_from": "2022-04-12", "school_public_funds_share": 0.05, "district_payroll_share_min": 0.015,
          "district_payroll_share_max": 0.025, "pass_down_min": None,
          "sources": {"school_public_funds_share": "003 §5.2", "district_payroll_share": "003 §5.2"}}
HANGZHOU = {"effective_from": "2014-01-01", "school_public_funds_share": "0.10",
            "school_share_basis": "daily_public_funds", "district_payroll_share_min": "0.03",
            "district_payroll_share_max": None, "pass_down_min": "0.70"}


@pytest.fixture(scope="module")
async def published(as_role, fpool):
    up = Upstream(fpool)
    for tree in ("jiyuan", "hangzhou", "jiangxi"):
        await up.tree(tree)
    await ok(await as_role("county_admin", "419001").put("/v1/policies/419001", json=JIYUAN), 201)
    await ok(await as_role("province_admin", "330000").put("/v1/policies/330106", json=HANGZHOU), 201)


async def test_a_policy_is_stored_as_exact_decimals_with_its_sources(as_role, published, fpool):
    r = await as_role("auditor", "330000").get("/v1/policies/330106", params={"as_of": "2023-06-01"})
    doc = await ok(r)
    assert doc["in_force"] == {
        "jurisdiction_code": "330106", "effective_from": "2014-01-01", "school_public_funds_share": "0.10",
        "school_share_basis": "daily_public_funds", "district_payroll_share_min": "0.03",
        "district_payroll_share_max": None, "pass_down_min": "0.70",
        "sources": {"school_public_funds_share": "001 §6.7; 003 §5.2; 002 §4.2.2",
                    "district_payroll_share": "002 §4.2.2; 003 §5.2", "pass_down_share": "002 §4.2.2"}}
    assert (await fpool.fetchval("SELECT district_payroll_share_min FROM funding_policies "
                                 "WHERE jurisdiction_code = '419001'")) == Decimal("0.015")
    before = await written(fpool)  # republishing the same version changes nothing
    assert (await as_role("county_admin", "419001").put("/v1/policies/419001", json=JIYUAN)).status_code == 200
    assert await written(fpool) == before


@pytest.mark.parametrize("change, code", [
    ({"school_public_funds_share": 0}, "validation_error"), ({"school_public_funds_share": 1.5}, "validation_error"),
    ({"school_public_funds_share": "-0.1"}, "validation_error"), ({"pass_down_min": "abc"}, "validation_error"),
    ({"pass_down_min": True}, "validation_error"), ({"pass_down_min": "0.0000001"}, "validation_error"),
    ({"district_payroll_share_max": "0.01"}, "invalid_band"),
    ({"school_public_funds_share": None, "district_payroll_share_min": None, "district_payroll_share_max": None},
     "empty_policy"),
    ({"sources": {"bogus_rule": "x"}}, "validation_error"), ({"effective_from": "2022-13-01"}, "validation_error"),
    ({"unexpected": 1}, "validation_error"),
])
async def test_bad_policies_are_422_and_write_nothing(as_role, published, fpool, change, code):
    before = await written(fpool)
    r = await as_role("county_admin", "419001").put("/v1/policies/419001", json={**JIYUAN, **change,
                                                                                 "effective_from": "2030-01-01"}
                                                    if "effective_from" not in change else {**JIYUAN, **change})
    refused(r, 422, code)
    assert await written(fpool) == before


async def test_who_may_publish_where(as_role, published, fpool):
    before = await written(fpool)
    body = {**JIYUAN, "effective_from": "2030-01-01"}
    refused(await as_role("school_admin", "419001001").put("/v1/policies/419001", json=body), 403, "forbidden_role")
    refused(await as_role("county_admin", "330106").put("/v1/policies/419001", json=body), 403, "out_of_scope")
    refused(await as_role("province_admin", "410000").put("/v1/policies/419009", json=body), 404, "org_not_found")
    refused(await as_role("province_admin", "410000").put("/v1/policies/4190010", json=body), 422, "validation_error")
    assert await written(fpool) == before


async def judged(client, code: str, year: int) -> dict:
    doc = await ok(await client.get(f"/v1/orgs/{code}/funding", params={"year": year}))
    return {v["rule"]: (v["compliant"], v["source"]) for v in doc["rules"]}


@pytest.mark.parametrize("year, payroll_share_fen, jiyuan, hangzhou", [
    (2041, 20_000, True, False),    # 2.0%: inside Jiyuan's guide, below Hangzhou's 3%
    (2042, 25_000, True, False),    # 2.5%: Jiyuan's guide's upper end, met exactly
    (2043, 25_001, True, False),    # just above Jiyuan's guide: still meets its 1.5% floor (003 §5.2)
    (2044, 30_000, True, True),     # 3.0%: above the guide, Hangzhou's minimum met exactly
])
async def test_the_same_figures_get_different_verdicts_in_two_jurisdictions(
        as_role, published, year, payroll_share_fen, jiyuan, hangzhou):
    for county, school in (("419001", "419001001"), ("330106", "330106001")):
        c, s = as_role("county_admin", county), as_role("school_admin", school)
        await ok(await c.put(f"/v1/orgs/{county}/budgets/{year}", json={
            "public_funds_budget_fen": 0, "payroll_fen": 1_000_000, "training_budget_fen": payroll_share_fen}), 201)
        await ok(await s.put(f"/v1/orgs/{school}/budgets/{year}", json={
            "public_funds_budget_fen": 100_000, "payroll_fen": 0, "training_budget_fen": 6_000}), 201)
        await ok(await s.post("/v1/disbursements", json={"org_code": school, "year": year, "amount_fen": 6_000,
                                                         "purpose": "培训费"}), 201)
    jy, hz = await judged(as_role("service"), "419001", year), await judged(as_role("service"), "330106", year)
    assert jy == {"district_payroll_share": (jiyuan, "003 §5.2")}
    # 003 §5.2's upper figure is a guide: shown, with a notice above it, never a failure (issue 20).
    [guided] = (await ok(await as_role("service").get("/v1/orgs/419001/funding", params={"year": year})))["rules"]
    above = payroll_share_fen > 25_000
    assert (guided["guide_max"], guided["above_guide"], guided["threshold_max"]) == ("0.025", above, None)
    assert (guided["notice"] is not None) is above
    assert hz == {"district_payroll_share": (hangzhou, "002 §4.2.2; 003 §5.2"),  # default citations: none given
                  "pass_down_share": (False, "002 §4.2.2")}
    # 6% of the public funds set aside: enough for Jiyuan's 5%, not for Hangzhou's 10%.
    assert await judged(as_role("service"), "419001001", year) == {"school_public_funds_share": (True, "003 §5.2")}
    assert (await judged(as_role("service"), "330106001", year))["school_public_funds_share"][0] is False


async def test_a_later_version_judges_only_the_years_it_is_in_force_for(as_role, published):
    province, school = as_role("province_admin", "360000"), as_role("school_admin", "360102001")
    await ok(await province.put("/v1/policies/360000", json={
        "effective_from": "2018-03-06", "school_public_funds_share": "0.05",
        "sources": {"school_public_funds_share": "001 §6.7"}}), 201)
    await ok(await province.put("/v1/policies/360000", json={
        "effective_from": "2046-01-01", "school_public_funds_share": "0.06"}), 201)
    for year in (2045, 2046):
        await ok(await school.put(f"/v1/orgs/360102001/budgets/{year}", json={
            "public_funds_budget_fen": 1_000_000, "payroll_fen": 0, "training_budget_fen": 55_000}), 201)
        await ok(await school.post("/v1/disbursements", json={"org_code": "360102001", "year": year,
                                                              "amount_fen": 55_000, "purpose": "培训费"}), 201)
    old, new = [await ok(await school.get("/v1/orgs/360102001/funding", params={"year": y})) for y in (2045, 2046)]
    assert [(v["threshold_min"], v["compliant"], v["ratio"]) for v in old["rules"]] == [("0.05", True, "0.0550")]
    assert [(v["threshold_min"], v["compliant"]) for v in new["rules"]] == [("0.06", False)]
    early = await ok(await school.get("/v1/orgs/360102001/funding", params={"year": 2046, "as_of": "2045-12-31"}))
    assert early["rules"][0]["compliant"] is True and early["policy"]["effective_from"] == "2018-03-06"
