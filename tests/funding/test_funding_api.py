"""Budgets, allocations, disbursements and reversals on the real funding app (PostgreSQL + NATS):
each success, each refusal code, bad amounts, unknown orgs, wrong roles and scopes — and that a
refused or invalid command writes nothing (acceptance 3). Each test uses its own budget year,
so the tests of this module share the org tree but never an account."""

from __future__ import annotations

import uuid

import pytest

from tests.funding.given import Upstream, ok, refused, written

COUNTY, S1, S2 = "360102", "360102001", "360102002"
OTHER_COUNTY, OTHER_SCHOOL = "330106", "330106001"


@pytest.fixture(scope="module")
async def up(fpool) -> Upstream:
    upstream = Upstream(fpool)
    for tree in ("jiangxi", "hangzhou"):
        await upstream.tree(tree)
    return upstream


@pytest.fixture(scope="module")
def county(as_role, up):
    return as_role("county_admin", COUNTY)


@pytest.fixture(scope="module")
def school(as_role, up):
    return as_role("school_admin", S1)


async def declare(client, code: str, year: int, public: int = 0, payroll: int = 0, training: int = 0, **kw):
    return await client.put(f"/v1/orgs/{code}/budgets/{year}", json={
        "public_funds_budget_fen": public, "payroll_fen": payroll, "training_budget_fen": training}, **kw)


async def disburse(client, code: str, year: int, amount, purpose: str = "培训课时费", headers=None, **fields):
    return await client.post("/v1/disbursements", json={"org_code": code, "year": year, "amount_fen": amount,
                                                         "purpose": purpose, **fields}, headers=headers)


async def allocate(client, source: str, target: str, year: int, amount):
    return await client.post("/v1/allocations", json={"from_code": source, "to_code": target, "year": year,
                                                      "amount_fen": amount})


async def funding(client, code: str, year: int) -> dict:
    return await ok(await client.get(f"/v1/orgs/{code}/funding", params={"year": year}))


async def test_a_school_admin_declares_then_revises_its_own_budget(school, fpool):
    r = await declare(school, S1, 2031, public=1_000_000, training=50_000)
    assert (await ok(r, 201))["version"] == 1 and r.headers["etag"] == '"1"'
    before = await written(fpool)
    assert (await ok(await declare(school, S1, 2031, public=1_000_000, training=50_000)))["version"] == 1
    assert await written(fpool) == before  # an identical PUT records nothing
    assert (await ok(await declare(school, S1, 2031, public=1_200_000, training=60_000)))["version"] == 2
    got = await school.get(f"/v1/orgs/{S1}/budgets/2031")
    assert (await ok(got))["public_funds_budget_fen"] == 1_200_000 and got.headers["etag"] == '"2"'
    refused(await declare(school, S1, 2031, public=1, headers={"If-Match": '"1"'}), 412, "precondition_failed")


async def test_a_county_allocates_to_its_schools_and_each_disburses_within_what_it_has(county, as_role, fpool):
    s2 = as_role("school_admin", S2)
    await ok(await declare(county, COUNTY, 2032, payroll=10_000_000, training=300_000), 201)
    await ok(await declare(s2, S2, 2032, public=1_000_000, training=20_000), 201)
    alloc = await ok(await allocate(county, COUNTY, S2, 2032, 210_000), 201)
    assert alloc["from_code"] == COUNTY and alloc["to_code"] == S2 and alloc["amount_fen"] == 210_000
    # The school has 20,000 of its own + 210,000 received = 230,000.
    refused(await disburse(s2, S2, 2032, 230_001), 409, "insufficient_funds")
    d = await ok(await disburse(s2, S2, 2032, 230_000, purpose="教材资料费"), 201)
    assert d["purpose"] == "教材资料费" and d["project_id"] is None
    refused(await disburse(s2, S2, 2032, 1), 409, "insufficient_funds")
    # The county has 300,000 − 210,000 = 90,000 left; allocating more is refused too.
    refused(await allocate(county, COUNTY, S1, 2032, 90_001), 409, "insufficient_funds")
    doc = await funding(county, COUNTY, 2032)
    assert (doc["allocated_fen"], doc["spent_fen"], doc["available_fen"]) == (210_000, 0, 90_000)
    assert doc["ratios"] == {"set_aside_share": None, "funding_ratio": None, "payroll_share": "0.0300",
                             "pass_down_share": "0.7000"}
    school_doc = await funding(s2, S2, 2032)
    assert (school_doc["received_fen"], school_doc["spent_fen"], school_doc["available_fen"]) == (210_000, 230_000, 0)
    assert school_doc["ratios"]["funding_ratio"] == "0.2300"
    # Lowering the school's own budget below what it has committed is refused.
    refused(await declare(s2, S2, 2032, public=1_000_000, training=19_999), 409, "budget_below_committed")
    assert (await funding(s2, S2, 2032))["budget"]["training_budget_fen"] == 20_000


async def test_reversals_are_new_entries_and_happen_once(county, as_role, fpool):
    s1 = as_role("school_admin", S1)
    await ok(await declare(county, COUNTY, 2033, training=100_000), 201)
    alloc = await ok(await allocate(county, COUNTY, S1, 2033, 60_000), 201)
    spent = await ok(await disburse(s1, S1, 2033, 50_000), 201)
    # The school spent 50,000 of the 60,000: the allocation cannot be taken back.
    refused(await county.post(f"/v1/allocations/{alloc['allocation_id']}/reverse", json={"reason": "错拨"}),
            409, "allocation_committed")
    refused(await county.post(f"/v1/disbursements/{spent['disbursement_id']}/reverse", json={"reason": "x"}),
            403, "forbidden_role")  # only the paying school's admin corrects its own entry
    rev = await ok(await s1.post(f"/v1/disbursements/{spent['disbursement_id']}/reverse", json={"reason": "重复支付"}))
    assert rev["entry_id"] == spent["disbursement_id"] and rev["amount_fen"] == 50_000 and rev["reason"] == "重复支付"
    refused(await s1.post(f"/v1/disbursements/{spent['disbursement_id']}/reverse", json={"reason": "again"}),
            409, "already_reversed")
    await ok(await county.post(f"/v1/allocations/{alloc['allocation_id']}/reverse", json={"reason": "错拨"}))
    assert (await funding(county, COUNTY, 2033))["available_fen"] == 100_000
    assert (await funding(s1, S1, 2033))[("spent_fen")] == 0
    entries = (await ok(await s1.get(f"/v1/orgs/{S1}/funding/entries", params={"year": 2033})))["items"]
    assert [(e["kind"], e["amount_fen"]) for e in entries] == [
        ("allocation", 60_000), ("disbursement", 50_000), ("reversal", -50_000), ("reversal", -60_000)]
    got = await ok(await s1.get(f"/v1/disbursements/{spent['disbursement_id']}"))
    assert got["reversed"] is True and got["version"] == 2
    refused(await s1.post(f"/v1/disbursements/{uuid.uuid4()}/reverse", json={"reason": "x"}), 404,
            "disbursement_not_found")


@pytest.mark.parametrize("amount", [-1, 0, 1.5, "100", 1000.0, True, None, 10**15, [1]])
async def test_money_is_a_positive_json_integer_below_the_cap(county, fpool, amount):
    before = await written(fpool)
    refused(await disburse(county, COUNTY, 2034, amount), 422, "validation_error")
    refused(await allocate(county, COUNTY, S1, 2034, amount), 422, "validation_error")
    if amount not in (0, None) and not isinstance(amount, list):
        refused(await county.put(f"/v1/orgs/{COUNTY}/budgets/2034", json={
            "public_funds_budget_fen": 0, "payroll_fen": 0, "training_budget_fen": -1 if amount == 0 else amount}),
            422, "validation_error")
    assert await written(fpool) == before


async def test_an_exponent_in_the_raw_json_is_not_an_integer(county, fpool):
    before = await written(fpool)
    body = f'{{"org_code": "{COUNTY}", "year": 2034, "amount_fen": 1e3, "purpose": "x"}}'.encode()
    r = await county.post("/v1/disbursements", content=body, headers={"Content-Type": "application/json"})
    refused(r, 422, "validation_error")
    assert await written(fpool) == before


async def test_unknown_orgs_projects_and_hosts_are_404(as_role, county, fpool):
    before = await written(fpool)
    ghost_school = "360102999"
    refused(await declare(as_role("school_admin", ghost_school), ghost_school, 2035), 404, "org_not_found")
    refused(await allocate(county, COUNTY, ghost_school, 2035, 1), 404, "org_not_found")
    refused(await disburse(county, COUNTY, 2035, 1, project_id=str(uuid.uuid4())), 404, "project_not_found")
    refused(await disburse(county, COUNTY, 2035, 1, host_id=str(uuid.uuid4())), 404, "host_not_found")
    refused(await county.get(f"/v1/orgs/{ghost_school}/funding", params={"year": 2035}), 404, "org_not_found")
    assert await written(fpool) == before


async def test_a_disbursement_for_a_project_pays_its_host(county, up, fpool):
    host, other = await up.host("360000"), await up.host("360000")
    pid = await up.project(host, "360000")
    await ok(await declare(county, COUNTY, 2036, training=1_000), 201)
    before = await written(fpool)
    refused(await disburse(county, COUNTY, 2036, 100, project_id=pid, host_id=other), 422, "host_mismatch")
    refused(await disburse(county, COUNTY, 2036, 100, purpose="   "), 422, "purpose_required")
    assert await written(fpool) == before
    d = await ok(await disburse(county, COUNTY, 2036, 100, project_id=pid), 201)
    assert d["host_id"] == host and d["project_id"] == pid


@pytest.mark.parametrize("role, org, code", [
    ("teacher", None, "forbidden_role"), ("host", None, "forbidden_role"), ("auditor", COUNTY, "forbidden_role"),
    ("service", None, "forbidden_role"),
    ("county_admin", COUNTY, "forbidden_role"),  # above the school, but not its administrator
    ("school_admin", S2, "out_of_scope"), ("county_admin", OTHER_COUNTY, "out_of_scope"),
])
async def test_only_the_schools_own_admin_declares_its_budget(as_role, fpool, role, org, code):
    before = await written(fpool)
    refused(await declare(as_role(role, org), S1, 2037, public=1), 403, code)
    refused(await disburse(as_role(role, org), S1, 2037, 1), 403, code)
    assert await written(fpool) == before


async def test_allocations_flow_only_down_the_allocating_orgs_subtree(as_role, county, fpool):
    province = as_role("province_admin", "330000")
    before = await written(fpool)
    refused(await allocate(county, COUNTY, OTHER_SCHOOL, 2038, 1), 403, "out_of_scope")  # another county's school
    refused(await allocate(county, OTHER_COUNTY, OTHER_SCHOOL, 2038, 1), 403, "out_of_scope")
    refused(await allocate(as_role("school_admin", S1), S1, COUNTY, 2038, 1), 403, "out_of_scope")  # upwards
    refused(await allocate(province, "330100", OTHER_SCHOOL, 2038, 1), 403, "forbidden_role")  # not the city's admin
    refused(await allocate(province, "330000", "330000", 2038, 1), 422, "outside_subtree")
    refused(await allocate(as_role("teacher", sub=str(uuid.uuid4())), COUNTY, S1, 2038, 1), 403, "forbidden_role")
    assert await written(fpool) == before
    await ok(await declare(province, "330000", 2038, training=500), 201)
    assert (await ok(await allocate(province, "330000", OTHER_SCHOOL, 2038, 500), 201))["to_code"] == OTHER_SCHOOL


async def test_an_idempotency_key_replays_the_first_disbursement(county, fpool):
    await ok(await declare(county, COUNTY, 2039, training=1_000), 201)
    key = {"Idempotency-Key": f"pay-{uuid.uuid4()}"}
    first = await ok(await disburse(county, COUNTY, 2039, 600, headers=key), 201)
    again = await county.post("/v1/disbursements", json={"org_code": COUNTY, "year": 2039, "amount_fen": 600,
                                                         "purpose": "培训课时费"}, headers=key)
    assert again.status_code == 201 and again.json() == first and again.headers["idempotent-replayed"] == "true"
    refused(await disburse(county, COUNTY, 2039, 601, headers=key), 422, "idempotency_key_reused")
    assert (await funding(county, COUNTY, 2039))["spent_fen"] == 600


async def test_reads_stay_within_the_callers_subtree(as_role, county):
    await ok(await as_role("auditor", "360000").get(f"/v1/orgs/{S1}/funding", params={"year": 2031}))
    await ok(await as_role("service").get(f"/v1/orgs/{S1}/funding", params={"year": 2031}))
    refused(await as_role("school_admin", S2).get(f"/v1/orgs/{S1}/funding", params={"year": 2031}), 403,
            "out_of_scope")
    refused(await as_role("school_admin", S1).get(f"/v1/orgs/{COUNTY}/funding", params={"year": 2031}), 403,
            "out_of_scope")
    refused(await as_role("teacher", sub=str(uuid.uuid4())).get(f"/v1/orgs/{S1}/funding", params={"year": 2031}),
            403, "forbidden_role")
    refused(await county.get(f"/v1/orgs/{S1}/funding", params={"year": 1999}), 422, "validation_error")
