"""GET /v1/funding/orgs: funding publishes its verdicts for other services (issue 14) — one item
per account of the year in the region, judged exactly as GET /v1/orgs/{code}/funding judges,
with the version of the policy used. A Hangzhou district (002 §4.2.2: schools ≥ 10% of daily
public funds, payroll ≥ 3%, ≥ 70% passed down) with its figures exactly at each line, a school
that only received an allocation, the readers' scope, paging, and a policy change in Jiangxi
(001 §6.7) that flips a verdict and the policy version with it. Issue 20: a school's share is what
it sets aside (its training budget), its spending shown beside it unjudged; an org that never
declared a budget is listed as undeclared (未申报), account or not."""

from __future__ import annotations

import uuid

import pytest

from tests.funding.given import Upstream, ok, refused

COUNTY, S1, S2, S3, S4, OTHER_COUNTY = "330106", "330106001", "330106002", "330106003", "330106004", "330108"
YEAR = 2071
HANGZHOU = {"effective_from": "2014-01-01", "school_public_funds_share": "0.10",
            "school_share_basis": "daily_public_funds", "district_payroll_share_min": "0.03",
            "pass_down_min": "0.70", "sources": {r: "002 §4.2.2" for r in (
                "school_public_funds_share", "district_payroll_share", "pass_down_share")}}


@pytest.fixture(scope="module")
async def district(as_role, fpool):
    """The district budgets exactly 3% of its payroll and passes exactly 70% down (to S1 and S3);
    S1 sets aside exactly 10% of its public funds and spends nothing of it (it spends from what the
    district passed down), S2 sets aside one fen less and spends it; S3 never declares a budget but
    received an allocation; S4 is registered and has no account at all."""
    up = Upstream(fpool)
    for tree in ("hangzhou", "jiangxi"):
        await up.tree(tree)
    await up.emit(f"org-{S4}", "OrgRegistered", {"code": S4, "name": "西湖区第四小学", "kind": "school",
                                                 "parent_code": COUNTY})
    await ok(await as_role("province_admin", "330000").put(f"/v1/policies/{COUNTY}", json=HANGZHOU), 201)
    county = as_role("county_admin", COUNTY)
    await ok(await county.put(f"/v1/orgs/{COUNTY}/budgets/{YEAR}", json={
        "public_funds_budget_fen": 0, "payroll_fen": 1_000_000, "training_budget_fen": 30_000}), 201)
    for school, amount in ((S1, 14_000), (S3, 7_000)):
        await ok(await county.post("/v1/allocations", json={"from_code": COUNTY, "to_code": school, "year": YEAR,
                                                            "amount_fen": amount}), 201)
    for school, training, spent in ((S1, 10_000, 10_000), (S2, 9_999, 9_999)):
        admin = as_role("school_admin", school)
        await ok(await admin.put(f"/v1/orgs/{school}/budgets/{YEAR}", json={
            "public_funds_budget_fen": 100_000, "payroll_fen": 0, "training_budget_fen": training}), 201)
        await ok(await admin.post("/v1/disbursements", json={"org_code": school, "year": YEAR, "amount_fen": spent,
                                                             "purpose": "培训费"}), 201)


async def verdicts(client, **params) -> dict:
    return await ok(await client.get("/v1/funding/orgs", params={"year": YEAR, **params}))


async def test_each_verdict_flips_exactly_at_its_threshold(as_role, district):
    doc = await verdicts(as_role("service"), region_code=COUNTY)
    assert (doc["year"], doc["region_code"], doc["next_cursor"]) == (YEAR, COUNTY, None)
    by_code = {i["org_code"]: i for i in doc["items"]}
    assert list(by_code) == [COUNTY, S1, S2, S3, S4]
    county = by_code[COUNTY]
    assert (county["payroll_share"], county["pass_down_share"], county["compliant"]) == ("0.0300", "0.7000", True)
    assert [(r["rule"], r["threshold_min"], r["compliant"]) for r in county["rules"]] == [
        ("district_payroll_share", "0.03", True), ("pass_down_share", "0.70", True)]
    assert county["policy"] == {"jurisdiction_code": COUNTY, "effective_from": "2014-01-01", "version": 1}
    # Set aside 10,000 / 100,000; S2 9,999 shows 0.1000 and fails. Spending is shown, never judged.
    assert (by_code[S1]["set_aside_share"], by_code[S1]["compliant"], by_code[S1]["status"]) == (
        "0.1000", True, "compliant")
    assert (by_code[S2]["set_aside_share"], by_code[S2]["compliant"], by_code[S2]["status_label"]) == (
        "0.1000", False, "未达标")
    assert [(r["ratio"], r["spending_share"]) for r in by_code[S1]["rules"]] == [("0.1000", "0.1000")]
    # The one judgement: every item says what GET /v1/orgs/{code}/funding says of that org.
    for code, item in by_code.items():
        one = await ok(await as_role("service").get(f"/v1/orgs/{code}/funding", params={"year": YEAR}))
        assert (item["rules"], item["compliant"], item["funding_ratio"], item["status"]) == (
            one["rules"], one["compliant"], one["ratios"]["funding_ratio"], one["status"])


async def test_a_school_that_only_received_an_allocation_is_listed_undeclared_and_unjudged(as_role, district):
    [item] = [i for i in (await verdicts(as_role("service"), region_code=COUNTY))["items"] if i["org_code"] == S3]
    assert item == {
        "org_code": S3, "name": "西湖区第三小学", "kind": "school", "declared": False,
        "public_funds_budget_fen": 0, "payroll_fen": 0, "training_budget_fen": 0, "received_fen": 7_000,
        "allocated_fen": 0, "spent_fen": 0, "set_aside_share": None, "funding_ratio": None, "payroll_share": None,
        "pass_down_share": None, "policy": {"jurisdiction_code": COUNTY, "effective_from": "2014-01-01", "version": 1},
        "rules": [{"rule": "school_public_funds_share", "label": "培训经费预算占学校日常公用经费比例", "ratio": None,
                   "threshold_min": "0.10", "threshold_max": None, "compliant": None, "source": "002 §4.2.2",
                   "spending_share": None, "spending_label": "培训经费支出占学校日常公用经费比例（仅供参考，不作判定）",
                   "guide_max": None, "above_guide": None, "notice": None,
                   "jurisdiction_code": COUNTY, "effective_from": "2014-01-01"}],
        "compliant": None, "status": "undeclared", "status_label": "未申报"}


async def test_a_registered_school_with_no_account_is_listed_as_undeclared(as_role, district):
    """DOMAIN.md "Funding"; 002 §4.2.2 (各中小学…提取教师培训经费): S4 declared nothing and moved no
    money: it is listed (未申报), its figures zero, its verdicts not judged (issue 20)."""
    [item] = [i for i in (await verdicts(as_role("service"), region_code=COUNTY))["items"] if i["org_code"] == S4]
    assert (item["declared"], item["status"], item["status_label"], item["compliant"], item["spent_fen"]) == (
        False, "undeclared", "未申报", None, 0)
    assert [r["compliant"] for r in item["rules"]] == [None]
    county = await ok(await as_role("service").get(f"/v1/orgs/{COUNTY}/funding", params={"year": YEAR}))
    assert county["subtree"]["compliance"]["school"] == {
        "undeclared": 2, "compliant": 1, "not_compliant": 1, "not_judged": 0}  # S3 (account, no budget) and S4


async def test_readers_see_their_subtree_and_nothing_beyond(as_role, district):
    everything = await verdicts(as_role("service"))  # every registered org, declared or not
    codes = [i["org_code"] for i in everything["items"]]
    assert everything["region_code"] is None and codes == sorted(codes) and {COUNTY, S1, S2, S3, S4, "360000"} <= {
        *codes}
    own = await verdicts(as_role("county_admin", COUNTY))  # region_code defaults to the caller's org
    assert own["region_code"] == COUNTY and len(own["items"]) == 5
    school = await verdicts(as_role("school_admin", S2))
    assert (school["region_code"], [i["org_code"] for i in school["items"]]) == (S2, [S2])
    assert [i["org_code"] for i in (await verdicts(as_role("auditor", "330000"), region_code=COUNTY))["items"]] == [
        COUNTY, S1, S2, S3, S4]
    assert [(i["org_code"], i["status"]) for i in (await verdicts(as_role("city_admin", "330100"),
                                                                 region_code=OTHER_COUNTY))["items"]] == [
        (OTHER_COUNTY, "undeclared"), ("330108001", "undeclared")]
    for role, org, region in (("county_admin", OTHER_COUNTY, COUNTY), ("school_admin", S2, COUNTY),
                              ("auditor", "360000", COUNTY), ("school_admin", S1, S2)):
        refused(await as_role(role, org).get("/v1/funding/orgs", params={"year": YEAR, "region_code": region}),
                403, "out_of_scope")
    refused(await as_role("auditor").get("/v1/funding/orgs", params={"year": YEAR}), 403, "out_of_scope")
    for role in ("teacher", "host"):
        refused(await as_role(role, sub=str(uuid.uuid4())).get("/v1/funding/orgs", params={"year": YEAR}),
                403, "forbidden_role")


async def test_pages_follow_the_org_code_order_to_the_end(as_role, district):
    service = as_role("service")
    whole = (await verdicts(service, region_code=COUNTY))["items"]
    pages, cursor = [], None
    while True:
        doc = await verdicts(service, region_code=COUNTY, limit=3, **({"cursor": cursor} if cursor else {}))
        pages.append([i["org_code"] for i in doc["items"]])
        cursor = doc["next_cursor"]
        if cursor is None:
            break
    assert pages == [[COUNTY, S1, S2], [S3, S4]]
    assert (await verdicts(service, region_code=COUNTY, limit=1))["items"] == whole[:1]
    refused(await service.get("/v1/funding/orgs", params={"year": YEAR, "cursor": "!!"}), 422, "bad_cursor")
    for bad in ({"limit": 0}, {"limit": 1001}, {"year": 1999}, {"region_code": "33"}, {"as_of": "2071-13-01"}):
        refused(await service.get("/v1/funding/orgs", params={"year": YEAR, **bad}), 422, "validation_error")


async def test_a_new_policy_version_flips_a_verdict_and_names_its_version(as_role, district):
    province, school = as_role("province_admin", "360000"), as_role("school_admin", "360102001")
    year = 2072
    await ok(await province.put("/v1/policies/360000", json={
        "effective_from": "2018-03-06", "school_public_funds_share": "0.05",
        "sources": {"school_public_funds_share": "001 §6.7"}}), 201)
    await ok(await school.put(f"/v1/orgs/360102001/budgets/{year}", json={
        "public_funds_budget_fen": 1_000_000, "payroll_fen": 0, "training_budget_fen": 50_000}), 201)
    await ok(await school.post("/v1/disbursements", json={"org_code": "360102001", "year": year,
                                                          "amount_fen": 50_000, "purpose": "培训费"}), 201)

    async def judged(**params) -> tuple:
        [item] = [i for i in (await ok(await as_role("auditor", "360000").get("/v1/funding/orgs", params={
            "year": year, **params})))["items"] if i["declared"]]
        return item["compliant"], item["policy"], [(r["threshold_min"], r["source"]) for r in item["rules"]]

    assert await judged() == (True, {"jurisdiction_code": "360000", "effective_from": "2018-03-06", "version": 1},
                              [("0.05", "001 §6.7")])
    await ok(await province.put("/v1/policies/360000", json={
        "effective_from": f"{year}-01-01", "school_public_funds_share": "0.06",
        "sources": {"school_public_funds_share": "001 §6.7"}}), 201)
    assert await judged() == (False, {"jurisdiction_code": "360000", "effective_from": f"{year}-01-01",
                                      "version": 2}, [("0.06", "001 §6.7")])
    # Judged on a day before the new version took effect, the old one still applies.
    assert (await judged(as_of=f"{year - 1}-12-31"))[:2] == (
        True, {"jurisdiction_code": "360000", "effective_from": "2018-03-06", "version": 1})
