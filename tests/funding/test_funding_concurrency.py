"""The over-spend check holds under concurrency, on real PostgreSQL through the real app
(DESIGN.md: rules that span requests are enforced race-free and proven with concurrent tests):
parallel disbursements, allocations racing the allocating org's own spending, racing
reversals of one entry, and an allocation's reversal racing the receiver's spending."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.funding.given import Upstream, ok

COUNTY, SCHOOLS = "330106", ("330106001", "330106002", "330106003")


@pytest.fixture(scope="module")
async def up(fpool) -> Upstream:
    upstream = Upstream(fpool)
    await upstream.tree("hangzhou")
    return upstream


def outcomes(replies) -> Counter:
    return Counter((r.status_code, r.json().get("code")) for r in replies)


async def account(fpool, code: str, year: int):
    return await fpool.fetchrow("SELECT * FROM funding_accounts WHERE org_code = $1 AND year = $2", code, year)


async def events(fpool, type_: str, year: int) -> int:
    return await fpool.fetchval("SELECT count(*) FROM events WHERE type = $1 AND (data->>'year')::int = $2",
                                type_, year)


async def test_twenty_parallel_disbursements_spend_exactly_what_the_school_has(as_role, up, fpool):
    school = as_role("school_admin", SCHOOLS[0])
    await ok(await school.put(f"/v1/orgs/{SCHOOLS[0]}/budgets/2061", json={
        "public_funds_budget_fen": 0, "payroll_fen": 0, "training_budget_fen": 105_000}), 201)
    body = {"org_code": SCHOOLS[0], "year": 2061, "amount_fen": 10_000, "purpose": "培训课时费"}
    replies = await asyncio.gather(*(school.post("/v1/disbursements", json=body) for _ in range(20)))
    assert outcomes(replies) == {(201, None): 10, (409, "insufficient_funds"): 10}
    row = await account(fpool, SCHOOLS[0], 2061)
    assert (row["spent_fen"], row["training_budget_fen"] - row["spent_fen"]) == (100_000, 5_000)
    assert await events(fpool, "FundsDisbursed", 2061) == 10
    assert await fpool.fetchval("SELECT sum(amount_fen) FROM funding_entries WHERE year = 2061") == 100_000


async def test_allocations_and_the_countys_own_spending_race_for_one_balance(as_role, up, fpool):
    county = as_role("county_admin", COUNTY)
    await ok(await county.put(f"/v1/orgs/{COUNTY}/budgets/2062", json={
        "public_funds_budget_fen": 0, "payroll_fen": 0, "training_budget_fen": 50_000}), 201)
    allocations = [county.post("/v1/allocations", json={"from_code": COUNTY, "to_code": SCHOOLS[i % 3],
                                                        "year": 2062, "amount_fen": 3_000}) for i in range(12)]
    spending = [county.post("/v1/disbursements", json={"org_code": COUNTY, "year": 2062, "amount_fen": 3_000,
                                                       "purpose": "送教下乡"}) for _ in range(12)]
    replies = await asyncio.gather(*allocations, *spending)
    assert sum(r.status_code == 201 for r in replies) == 16  # 16 × 3,000 = 48,000 ≤ 50,000 < 17 × 3,000
    assert {r.json()["code"] for r in replies if r.status_code != 201} == {"insufficient_funds"}
    row = await account(fpool, COUNTY, 2062)
    assert row["allocated_fen"] + row["spent_fen"] == 48_000
    received = await fpool.fetchval("SELECT sum(received_fen) FROM funding_accounts WHERE year = 2062 "
                                    "AND org_code <> $1", COUNTY)
    assert received == row["allocated_fen"] == 3_000 * await events(fpool, "FundsAllocated", 2062)


async def test_racing_reversals_of_one_disbursement_reverse_it_once(as_role, up, fpool):
    school = as_role("school_admin", SCHOOLS[1])
    await ok(await school.put(f"/v1/orgs/{SCHOOLS[1]}/budgets/2063", json={
        "public_funds_budget_fen": 0, "payroll_fen": 0, "training_budget_fen": 9_000}), 201)
    paid = await ok(await school.post("/v1/disbursements", json={"org_code": SCHOOLS[1], "year": 2063,
                                                                 "amount_fen": 9_000, "purpose": "培训费"}), 201)
    url = f"/v1/disbursements/{paid['disbursement_id']}/reverse"
    replies = await asyncio.gather(*(school.post(url, json={"reason": "重复"}) for _ in range(8)))
    # Serialised on the entry's stream: the losers see the winner's reversal, not a version clash.
    assert outcomes(replies) == {(200, None): 1, (409, "already_reversed"): 7}
    assert (await account(fpool, SCHOOLS[1], 2063))["spent_fen"] == 0
    assert await events(fpool, "FundsReversed", 2063) == 1


async def test_reversing_an_allocation_races_the_receivers_spending_and_never_overdraws_it(as_role, up, fpool):
    county, school = as_role("county_admin", COUNTY), as_role("school_admin", SCHOOLS[2])
    await ok(await county.put(f"/v1/orgs/{COUNTY}/budgets/2064", json={
        "public_funds_budget_fen": 0, "payroll_fen": 0, "training_budget_fen": 10_000}), 201)
    alloc = await ok(await county.post("/v1/allocations", json={"from_code": COUNTY, "to_code": SCHOOLS[2],
                                                                "year": 2064, "amount_fen": 10_000}), 201)
    spend = [school.post("/v1/disbursements", json={"org_code": SCHOOLS[2], "year": 2064, "amount_fen": 3_000,
                                                    "purpose": "培训费"}) for _ in range(5)]
    back = county.post(f"/v1/allocations/{alloc['allocation_id']}/reverse", json={"reason": "错拨"})
    *spent, reversal = await asyncio.gather(*spend, back)
    paid = sum(r.status_code == 201 for r in spent)
    assert {r.json()["code"] for r in spent if r.status_code != 201} <= {"insufficient_funds"}
    # Either the reversal came first and nothing could be spent, or spending came first and the
    # allocation could no longer be taken back: never both.
    if reversal.status_code == 200:
        assert paid == 0
    else:
        assert (reversal.status_code, reversal.json()["code"], paid) == (409, "allocation_committed", 3)
    row = await account(fpool, SCHOOLS[2], 2064)
    assert row["received_fen"] - row["spent_fen"] >= 0 and row["spent_fen"] == 3_000 * paid
