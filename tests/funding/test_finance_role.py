"""The finance role (财务, issue 20): reads funding within the subtree of its `org` claim — accounts,
budgets, entries, verdicts, settlements — and nothing else: every funding command is refused
(403 forbidden_role) with nothing written, an org outside its subtree is 403 out_of_scope, and the
services holding teachers' data (enrollment, credits) serve it nothing (403 forbidden_role).

Given a Hangzhou district (002 §4.2.2) with a budget, an allocation and a school's spending."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import client_for
from tests.funding.given import Upstream, ok, refused, written

CITY, COUNTY, SCHOOL, OTHER_COUNTY, OTHER_CITY = "330100", "330106", "330106001", "330108", "360100"
YEAR = 2061


@pytest.fixture(scope="module")
async def ledger(as_role, fpool) -> dict:
    up = Upstream(fpool)
    for tree in ("hangzhou", "jiangxi"):
        await up.tree(tree)
    await ok(await as_role("county_admin", COUNTY).put(f"/v1/policies/{COUNTY}", json={
        "effective_from": "2014-01-01", "school_public_funds_share": "0.10", "district_payroll_share_min": "0.03",
        "pass_down_min": "0.70"}), 201)
    county, school = as_role("county_admin", COUNTY), as_role("school_admin", SCHOOL)
    await ok(await county.put(f"/v1/orgs/{COUNTY}/budgets/{YEAR}", json={
        "public_funds_budget_fen": 0, "payroll_fen": 1_000_000, "training_budget_fen": 30_000}), 201)
    allocation = await ok(await county.post("/v1/allocations", json={
        "from_code": COUNTY, "to_code": SCHOOL, "year": YEAR, "amount_fen": 21_000}), 201)
    await ok(await school.put(f"/v1/orgs/{SCHOOL}/budgets/{YEAR}", json={
        "public_funds_budget_fen": 100_000, "payroll_fen": 0, "training_budget_fen": 10_000}), 201)
    spent = await ok(await school.post("/v1/disbursements", json={
        "org_code": SCHOOL, "year": YEAR, "amount_fen": 5_000, "purpose": "培训费"}), 201)
    return {"allocation": allocation["allocation_id"], "disbursement": spent["disbursement_id"]}


async def test_finance_reads_the_funding_of_its_subtree(as_role, ledger):
    finance = as_role("finance", CITY)
    budget = await ok(await finance.get(f"/v1/orgs/{SCHOOL}/budgets/{YEAR}"))
    assert budget["training_budget_fen"] == 10_000
    doc = await ok(await finance.get(f"/v1/orgs/{COUNTY}/funding", params={"year": YEAR}))
    assert (doc["allocated_fen"], doc["compliant"], doc["status"]) == (21_000, True, "compliant")
    entries = await ok(await finance.get(f"/v1/orgs/{SCHOOL}/funding/entries", params={"year": YEAR}))
    assert [e["kind"] for e in entries["items"]] == ["allocation", "disbursement"]
    assert (await ok(await finance.get(f"/v1/allocations/{ledger['allocation']}")))["amount_fen"] == 21_000
    assert (await ok(await finance.get(f"/v1/disbursements/{ledger['disbursement']}")))["amount_fen"] == 5_000
    verdicts = await ok(await finance.get("/v1/funding/orgs", params={"year": YEAR}))  # its own org by default
    assert verdicts["region_code"] == CITY
    by_code = {i["org_code"]: i for i in verdicts["items"]}
    assert (by_code[SCHOOL]["status"], by_code[OTHER_COUNTY]["status_label"]) == ("compliant", "未申报")
    await ok(await finance.get("/v1/settlements", params={"project_id": str(uuid.uuid4())}))
    await ok(await finance.get(f"/v1/policies/{COUNTY}"))


async def test_finance_writes_nothing(as_role, fpool, ledger):
    finance = as_role("finance", CITY)
    before = await written(fpool)
    for method, path, body in (
            ("PUT", f"/v1/orgs/{COUNTY}/budgets/{YEAR}", {"public_funds_budget_fen": 0, "payroll_fen": 1,
                                                         "training_budget_fen": 1}),
            ("POST", "/v1/allocations", {"from_code": COUNTY, "to_code": SCHOOL, "year": YEAR, "amount_fen": 1}),
            ("POST", "/v1/disbursements", {"org_code": SCHOOL, "year": YEAR, "amount_fen": 1, "purpose": "培训费"}),
            ("POST", f"/v1/disbursements/{ledger['disbursement']}/reverse", {"reason": "测试"}),
            ("POST", f"/v1/allocations/{ledger['allocation']}/reverse", {"reason": "测试"}),
            ("POST", "/v1/settlements", {"project_id": str(uuid.uuid4()), "county_code": COUNTY,
                                         "fee_per_participant_fen": 100}),
            ("PUT", f"/v1/policies/{COUNTY}", {"effective_from": "2030-01-01", "school_public_funds_share": "0.2"})):
        refused(await finance.request(method, path, json=body), 403, "forbidden_role")
    assert await written(fpool) == before


async def test_finance_reads_nothing_outside_its_subtree(as_role, ledger):
    finance = as_role("finance", OTHER_CITY)
    for path in (f"/v1/orgs/{COUNTY}/funding", f"/v1/orgs/{SCHOOL}/funding/entries",
                 f"/v1/orgs/{COUNTY}/funding/projects"):
        refused(await finance.get(path, params={"year": YEAR}), 403, "out_of_scope")
    refused(await finance.get(f"/v1/orgs/{SCHOOL}/budgets/{YEAR}"), 403, "out_of_scope")
    refused(await finance.get("/v1/funding/orgs", params={"year": YEAR, "region_code": COUNTY}), 403, "out_of_scope")
    refused(await finance.get(f"/v1/allocations/{ledger['allocation']}"), 404, "allocation_not_found")
    refused(await as_role("finance").get("/v1/funding/orgs", params={"year": YEAR}), 403, "out_of_scope")  # no org


async def test_finance_gets_no_teacher_data(enrollment_app, keys_dir, ledger):
    """Enrollment (and credits, tests/security/test_authz_matrix.py) refuse the role outright."""
    finance = client_for(enrollment_app, keys_dir, "http://enrollment")("finance", CITY)
    for path in (f"/v1/teachers/{uuid.uuid4()}", f"/v1/enrollments?project_id={uuid.uuid4()}",
                 f"/v1/orgs/{SCHOOL}", "/v1/projects?year=2023"):
        refused(await finance.get(path), 403, "forbidden_role")
    refused(await finance.post("/v1/teachers", json={}), 403, "forbidden_role")
