"""FundingAssessed: funding publishes its verdicts as events too (issue 14), so reporting keeps
them in its own tables and needs no call to funding. The real funding service on PostgreSQL,
its assessor consuming funding's own stream over real NATS; every command is followed by
`assessed` (the assessor at the head of the store), so each step's assessments are counted.

Given the org trees of the seeds (Jiangxi 001, Jiyuan 003, a Hangzhou district 002), one year
per test so their accounts stay apart (policies apply to every year)."""

from __future__ import annotations

import pytest

from services.funding.projector.assessor import AssessorProjection
from shared.feed import store_source
from shared.projection import rebuild
from tests.funding.given import Upstream, assessed, ok

S1, S2, COUNTY, OTHER_SCHOOL = "330106001", "330106002", "330106", "330108001"
HANGZHOU = {"effective_from": "2014-01-01", "school_public_funds_share": "0.10",
            "school_share_basis": "daily_public_funds", "district_payroll_share_min": "0.03",
            "pass_down_min": "0.70"}


@pytest.fixture(scope="module")
async def trees(fpool, as_role):
    up = Upstream(fpool)
    for tree in ("jiangxi", "jiyuan", "hangzhou"):
        await up.tree(tree)
    # 001 §6.7: Jiangxi schools spend ≥ 5% of their public-funds budget on training.
    await ok(await as_role("province_admin", "360000").put("/v1/policies/360000", json={
        "effective_from": "2018-01-01", "school_public_funds_share": "0.05"}), 201)


async def published(fpool, org: str, year: int) -> list[dict]:
    """Every FundingAssessed of the account, in version order, once the assessor is done."""
    await assessed(fpool)
    return [r["data"] for r in await fpool.fetch(
        "SELECT data FROM events WHERE stream_id = $1 AND type = 'FundingAssessed' ORDER BY version",
        f"assessment-{org}-{year}")]


async def count(fpool) -> int:
    await assessed(fpool)
    return await fpool.fetchval("SELECT count(*) FROM events WHERE type = 'FundingAssessed'")


def budget(public: int = 0, payroll: int = 0, training: int = 0) -> dict:
    return {"public_funds_budget_fen": public, "payroll_fen": payroll, "training_budget_fen": training}


async def disburse(client, org: str, year: int, amount: int) -> dict:
    return await ok(await client.post("/v1/disbursements", json={
        "org_code": org, "year": year, "amount_fen": amount, "purpose": "培训费"}), 201)


async def test_a_budget_set_aside_at_the_threshold_publishes_an_assessment_that_flips_compliant(
        as_role, fpool, trees):
    """001 §6.7: the 5% is set aside (安排) in the school's budget; spending it changes the figures
    published, not the verdict (issue 20)."""
    school, year = "360102001", 2041
    admin = as_role("school_admin", school)
    await ok(await admin.put(f"/v1/orgs/{school}/budgets/{year}", json=budget(public=1_000_000, training=49_999)),
             201)
    assert [(a["spent_fen"], a["compliant"]) for a in await published(fpool, school, year)] == [(0, False)]
    await ok(await admin.put(f"/v1/orgs/{school}/budgets/{year}", json=budget(public=1_000_000, training=50_000)))
    await published(fpool, school, year)
    paid = await disburse(admin, school, year, 50_000)  # set aside 50,000 of 1,000,000: exactly 5%
    assessments = await published(fpool, school, year)
    assert [(a["spent_fen"], a["set_aside_share"], a["funding_ratio"], a["compliant"]) for a in assessments] == [
        (0, "0.0500", "0.0000", False), (0, "0.0500", "0.0000", True), (50_000, "0.0500", "0.0500", True)]
    last = assessments[-1]
    assert (last["org_code"], last["year"], last["kind"], last["declared"], last["judged_on"]) == (
        school, year, "school", True, f"{year}-12-31")
    assert last["policy"] == {"jurisdiction_code": "360000", "effective_from": "2018-01-01", "version": 1}
    assert [(r["rule"], r["threshold_min"], r["compliant"]) for r in last["rules"]] == [
        ("school_public_funds_share", "0.05", True)]
    # Caused by the disbursement's event, recorded by funding as a service.
    meta = await fpool.fetchval("SELECT metadata FROM events WHERE stream_id = $1 AND version = 3",
                                f"assessment-{school}-{year}")
    cause = await fpool.fetchval("SELECT event_id FROM events WHERE stream_id = $1",
                                 f"disbursement-{paid['disbursement_id']}")
    assert meta["causationid"] == str(cause) and meta["actor"]["role"] == "service"


async def test_a_repeated_identical_budget_declaration_publishes_nothing_new(as_role, fpool, trees):
    school, year = "360102002", 2041
    admin = as_role("school_admin", school)
    await ok(await admin.put(f"/v1/orgs/{school}/budgets/{year}", json=budget(public=500_000)), 201)
    assert len(await published(fpool, school, year)) == 1
    before = await count(fpool)
    await ok(await admin.put(f"/v1/orgs/{school}/budgets/{year}", json=budget(public=500_000)))
    # A version that takes effect after the year judges none of its accounts differently either.
    await ok(await as_role("province_admin", "360000").put("/v1/policies/360000", json={
        "effective_from": "2090-01-01", "school_public_funds_share": "0.08"}), 201)
    assert await count(fpool) == before


async def test_an_allocation_and_its_reversal_reassess_both_orgs(as_role, fpool, trees):
    county, school, year = "419001", "419001001", 2042
    admin = as_role("county_admin", county)
    await ok(await admin.put(f"/v1/orgs/{county}/budgets/{year}", json=budget(payroll=1_000_000, training=20_000)),
             201)
    await published(fpool, county, year)
    alloc = await ok(await admin.post("/v1/allocations", json={"from_code": county, "to_code": school, "year": year,
                                                               "amount_fen": 5_000}), 201)
    await published(fpool, county, year)
    await ok(await admin.post(f"/v1/allocations/{alloc['allocation_id']}/reverse", json={"reason": "错拨"}))
    assert [a["allocated_fen"] for a in await published(fpool, county, year)] == [0, 5_000, 0]
    assert [(a["received_fen"], a["declared"], a["compliant"]) for a in await published(fpool, school, year)] == [
        (5_000, False, None), (0, False, None)]  # opened by the allocation, never declared: not judged


async def test_a_policy_publication_reassesses_every_account_under_the_jurisdiction_that_it_changes(
        as_role, fpool, trees):
    county, province = as_role("county_admin", COUNTY), as_role("province_admin", "330000")
    await ok(await county.put(f"/v1/orgs/{COUNTY}/budgets/2043", json=budget(payroll=1_000_000, training=30_000)),
             201)
    for school, year, spent in ((S1, 2043, 10_000), (S2, 2043, 5_000), (S1, 2044, 5_000),
                                (OTHER_SCHOOL, 2043, 5_000)):
        admin = as_role("school_admin", school)
        await ok(await admin.put(f"/v1/orgs/{school}/budgets/{year}", json=budget(public=100_000,
                                                                                  training=spent)), 201)
        await disburse(admin, school, year, spent)
    accounts = ((COUNTY, 2043), (S1, 2043), (S2, 2043), (S1, 2044), (OTHER_SCHOOL, 2043))

    async def latest() -> dict[tuple[str, int], tuple[int, bool | None, str | None]]:
        out = {}
        for org, year in accounts:
            history = await published(fpool, org, year)
            policy = history[-1]["policy"]
            out[(org, year)] = (len(history), history[-1]["compliant"],
                                policy and f"{policy['jurisdiction_code']}@{policy['effective_from']}")
        return out

    before = await latest()
    assert {k: v[1:] for k, v in before.items()} == {k: (None, None) for k in accounts}  # no policy yet
    # 002 §4.2.2 in the district: every account under it, of both years, judged anew; not the other county's.
    await ok(await county.put(f"/v1/policies/{COUNTY}", json=HANGZHOU), 201)
    district = f"{COUNTY}@2014-01-01"
    after = await latest()
    assert after == {(COUNTY, 2043): (before[(COUNTY, 2043)][0] + 1, False, district),  # passes 0% down
                     (S1, 2043): (before[(S1, 2043)][0] + 1, True, district),  # 10% of daily public funds
                     (S2, 2043): (before[(S2, 2043)][0] + 1, False, district),
                     (S1, 2044): (before[(S1, 2044)][0] + 1, False, district),
                     (OTHER_SCHOOL, 2043): before[(OTHER_SCHOOL, 2043)]}
    # A version in force from 2044 on changes the 2044 account only.
    await ok(await county.put(f"/v1/policies/{COUNTY}", json={**HANGZHOU, "effective_from": "2044-01-01",
                                                              "school_public_funds_share": "0.05"}), 201)
    again = await latest()
    assert again == {**after, (S1, 2044): (after[(S1, 2044)][0] + 1, True, f"{COUNTY}@2044-01-01")}
    # The province's policy judges the school of the county without one; the district keeps its own.
    await ok(await province.put("/v1/policies/330000", json={"effective_from": "2014-01-01",
                                                            "school_public_funds_share": "0.05"}), 201)
    assert await latest() == {**again, (OTHER_SCHOOL, 2043): (before[(OTHER_SCHOOL, 2043)][0] + 1, True,
                                                              "330000@2014-01-01")}


async def test_each_assessment_is_the_published_verdict_of_get_funding_orgs(as_role, fpool, trees):
    await assessed(fpool)
    rows = await fpool.fetch("SELECT org_code, year, version, assessment FROM funding_assessments")
    assert rows
    for year in sorted({r["year"] for r in rows}):
        items = (await ok(await as_role("service").get("/v1/funding/orgs", params={"year": year})))["items"]
        served = {i["org_code"]: {k: v for k, v in i.items() if k != "name"} for i in items}
        recorded = {r["org_code"]: r["assessment"] for r in rows if r["year"] == year}
        assert {org: served[org] for org in recorded} == {
            org: {k: v for k, v in a.items() if k not in ("year", "judged_on")} for org, a in recorded.items()}
        # The registered orgs without an account are served too, as undeclared (issue 20).
        assert {(i["status"], i["declared"], i["spent_fen"]) for o, i in served.items() if o not in recorded} == {
            ("undeclared", False, 0)}
    for r in rows:  # the table holds each stream's last event, and its version
        last = await fpool.fetchrow("SELECT version, data FROM events WHERE stream_id = $1 ORDER BY version DESC "
                                    "LIMIT 1", f"assessment-{r['org_code']}-{r['year']}")
        assert (last["version"], last["data"]) == (r["version"], r["assessment"])


async def test_a_rebuild_of_the_assessor_publishes_no_duplicate(funding_app, fpool, trees):
    before = await count(fpool)
    table = sorted(tuple(r) for r in await fpool.fetch("SELECT org_code, year, version FROM funding_assessments"))
    assessor = next(p for p in funding_app.state.spec.projections if isinstance(p, AssessorProjection))
    replayed = await rebuild(fpool, assessor, store_source(fpool, funding_app.state.store, limit=7))
    assert replayed >= before  # every event of the store went through it again
    assert await count(fpool) == before
    assert sorted(tuple(r) for r in await fpool.fetch(
        "SELECT org_code, year, version FROM funding_assessments")) == table
