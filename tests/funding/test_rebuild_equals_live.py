"""Every table of the funding service, dropped and rebuilt from the event stores, equals the live
one row for row (issue 14, acceptance 2) — after a realistic scenario through the HTTP API:
policy versions, budgets and a revision, allocations, disbursements (some racing), reversals of
both kinds, a refused command, and settlements counted from check-ins that came from the real
enrollment service over NATS.

The guard and the read models of funding's own events — the last FundingAssessed of each account
(funding_assessments) among them — are rebuilt by InlineReplay from funding's store; the
directory (org tree, hosts, teachers, projects, check-ins) by its consumer projections from
enrollment's /v1/events feed. The assessor, which owns no table, is rebuilt last from funding's
store and must publish nothing: every assessment it would make is already recorded. The tables
are read from information_schema and all emptied first, so a table that no rebuild covers comes
back empty and fails the comparison."""

from __future__ import annotations

import asyncio

import httpx

from services.funding.domain.policy import SEED_POLICIES
from services.funding.projector.assessor import AssessorProjection
from services.funding.projector.directory import PROJECTIONS
from shared.devkeys import mint_token
from shared.feed import feed_source, store_source
from shared.inline import InlineReplay
from shared.projection import rebuild
from tests.funding.enrollment_flow import COUNTY, PROVINCE, S1, S2, S3, Enrollment
from tests.funding.given import assessed, ok, projected_checkins, refused
from tests.kernel import KERNEL_TABLES as KERNEL

YEAR = 2023


async def scenario(world: Enrollment, as_role, fpool) -> None:
    (t1, t2, t3), (t4, t5), (t6, _) = world.teachers[S1], world.teachers[S2], world.teachers[S3]
    await world.check_in(t1, t2, t4, t6)
    await projected_checkins(fpool, 4)
    province, county = as_role("province_admin", PROVINCE), as_role("county_admin", COUNTY)
    schools = {s: as_role("school_admin", s) for s in (S1, S2, S3)}
    district = {k: str(v) if hasattr(v, "as_tuple") else v for k, v in SEED_POLICIES["hangzhou_district"].items()}
    await ok(await county.put(f"/v1/policies/{COUNTY}", json={**district, "effective_from": "2014-01-01"}), 201)
    for day, share, status in (("2018-01-01", "0.05", 201), ("2023-01-01", "0.06", 201),
                               ("2023-01-01", "0.07", 200)):  # the last corrects the second
        await ok(await province.put(f"/v1/policies/{PROVINCE}", json={"effective_from": day,
                                                                       "school_public_funds_share": share}), status)
    await ok(await county.put(f"/v1/orgs/{COUNTY}/budgets/{YEAR}", json={
        "public_funds_budget_fen": 0, "payroll_fen": 100_000_000, "training_budget_fen": 3_000_000}), 201)
    await ok(await county.put(f"/v1/orgs/{COUNTY}/budgets/{YEAR}", json={
        "public_funds_budget_fen": 0, "payroll_fen": 100_000_000, "training_budget_fen": 3_100_000}))  # revised
    for s in (S1, S2):
        await ok(await schools[s].put(f"/v1/orgs/{s}/budgets/{YEAR}", json={
            "public_funds_budget_fen": 1_000_000, "payroll_fen": 0, "training_budget_fen": 10_000}), 201)
    allocations = {s: await ok(await county.post("/v1/allocations", json={
        "from_code": COUNTY, "to_code": s, "year": YEAR, "amount_fen": 700_000}), 201) for s in (S1, S2, S3)}
    await ok(await county.post(f"/v1/allocations/{allocations[S3]['allocation_id']}/reverse", json={"reason": "错拨"}))
    await ok(await schools[S1].post("/v1/disbursements", json={
        "org_code": S1, "year": YEAR, "amount_fen": 100_000, "purpose": "培训课时费", "project_id": world.project_id}),
        201)
    # Racing disbursements of one school: each entry lands in the order its event was recorded.
    raced = await asyncio.gather(*(schools[S2].post("/v1/disbursements", json={
        "org_code": S2, "year": YEAR, "amount_fen": 150_000, "purpose": "教材资料费"}) for _ in range(6)))
    assert sorted(r.status_code for r in raced) == [201] * 4 + [409] * 2  # 710,000 covers four
    paid = next(r.json() for r in raced if r.status_code == 201)
    await ok(await schools[S2].post(f"/v1/disbursements/{paid['disbursement_id']}/reverse", json={"reason": "重复"}))
    refused(await schools[S1].post("/v1/disbursements", json={
        "org_code": S1, "year": YEAR, "amount_fen": 610_001, "purpose": "超支"}), 409, "insufficient_funds")
    settle = {"project_id": world.project_id, "county_code": COUNTY, "fee_per_participant_fen": 50_000}
    await ok(await county.post("/v1/settlements", json=settle), 201)
    await world.check_in(t3, t5)  # late arrivals: the next settlement pays the difference
    await projected_checkins(fpool, 6)
    await ok(await county.post("/v1/settlements", json=settle), 201)
    await ok(await county.post("/v1/settlements", json={**settle, "fee_per_participant_fen": 45_000}), 201)


async def service_tables(pool) -> list[str]:
    rows = await pool.fetch("""SELECT table_name FROM information_schema.tables
                               WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'""")
    return sorted(r["table_name"] for r in rows if r["table_name"] not in KERNEL)


async def snapshot(pool, tables: list[str]) -> dict[str, list[tuple]]:
    return {t: sorted((tuple(r) for r in await pool.fetch(f"SELECT * FROM {t}")), key=repr) for t in tables}


async def test_every_table_rebuilt_from_the_event_stores_equals_the_live_one(
        world, as_role, funding_app, enrollment_app, fpool, keys_dir):
    await scenario(world, as_role, fpool)
    await assessed(fpool)  # the verdicts of the scenario's last commands recorded
    tables = await service_tables(fpool)
    assert {"funding_policies", "funding_accounts", "funding_entries", "funding_assessments", "orgs", "hosts",
            "teachers", "projects", "checkins"} <= set(tables)
    live = await snapshot(fpool, tables)
    assert all(live.values()), {t: len(rows) for t, rows in live.items()}  # the scenario touched every table
    assert len(live["funding_policies"]) == 3 and len(live["checkins"]) == 6

    await fpool.execute(f"TRUNCATE {', '.join(tables)}")  # dropped: only a rebuild brings a row back
    await rebuild(fpool, InlineReplay("funding", funding_app.state.spec.inline),
                  store_source(fpool, funding_app.state.store, limit=5))
    token = mint_token(keys_dir, "service", sub="funding")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=enrollment_app), base_url="http://e") as client:
        for projection in PROJECTIONS:
            await rebuild(fpool, projection, feed_source("http://e", token, limit=9, client=client))
    assert await snapshot(fpool, tables) == live
    events = await fpool.fetchval("SELECT count(*) FROM events")
    [assessor] = [p for p in funding_app.state.spec.projections if isinstance(p, AssessorProjection)]
    await rebuild(fpool, assessor, store_source(fpool, funding_app.state.store, limit=5))
    assert await fpool.fetchval("SELECT count(*) FROM events") == events
    assert await snapshot(fpool, tables) == live
