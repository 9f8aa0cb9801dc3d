"""Acceptance 1 end to end: the real enrollment app and the real funding app in one process, one
bus namespace, two databases. A Hangzhou district (002 §4.2.2) with three schools publishes its
policy, declares budgets, passes funds down, disburses, and settles a project whose participants
the funding service counted from TeacherCheckedIn events that came over NATS. The read models give
exact fen and ratios, and each compliant flag flips exactly at its threshold."""

from __future__ import annotations

import uuid

import httpx

from services.funding.domain.policy import SEED_POLICIES
from services.funding.projector.directory import PROJECTIONS
from shared.consumer import stream_source
from shared.devkeys import mint_token
from shared.feed import feed_source, store_source
from shared.inline import InlineReplay
from shared.projection import rebuild
from tests.funding.enrollment_flow import COUNTY, S1, S2, S3
from tests.funding.given import assessed, ok, projected_checkins

FEE, YEAR = 50_000, 2023



async def published(app) -> list:
    out = []
    async for batch in stream_source(app.state.bus, app.state.names, "enrollment"):
        out += batch
    return out


async def rules(client, code: str) -> dict:
    doc = await ok(await client.get(f"/v1/orgs/{code}/funding", params={"year": YEAR}))
    return {v["rule"]: v["compliant"] for v in doc["rules"]}


async def test_a_district_and_its_three_schools_from_budget_to_settlement(world, as_role, fpool, funding_app):
    (t1, t2, t3), (t4, _), (t6, _) = world.teachers[S1], world.teachers[S2], world.teachers[S3]
    await world.check_in(t1, t2, t4, t6)
    await projected_checkins(fpool, 4)
    county = as_role("county_admin", COUNTY)
    schools = {s: as_role("school_admin", s) for s in (S1, S2, S3)}
    policy = {**SEED_POLICIES["hangzhou_district"], "effective_from": "2014-01-01"}
    await ok(await county.put(f"/v1/policies/{COUNTY}", json={k: str(v) if hasattr(v, "as_tuple") else v
                                                               for k, v in policy.items()}), 201)

    # Budgets: the district budgets exactly 3% of its payroll; each school 10,000 yuan of daily public funds,
    # of which it sets aside (提取, 002 §4.2.2) just at, just below and just above 10% for training.
    await ok(await county.put(f"/v1/orgs/{COUNTY}/budgets/{YEAR}", json={
        "public_funds_budget_fen": 0, "payroll_fen": 100_000_000, "training_budget_fen": 3_000_000}), 201)
    set_aside = {S1: 100_000, S2: 99_999, S3: 100_001}
    for s, c in schools.items():
        await ok(await c.put(f"/v1/orgs/{s}/budgets/{YEAR}", json={
            "public_funds_budget_fen": 1_000_000, "payroll_fen": 0, "training_budget_fen": set_aside[s]}), 201)
        await ok(await county.post("/v1/allocations", json={"from_code": COUNTY, "to_code": s, "year": YEAR,
                                                            "amount_fen": 700_000}), 201)  # 3 × 700,000 = 70%
    # The schools spend what they set aside.
    for s, amount in set_aside.items():
        await ok(await schools[s].post("/v1/disbursements", json={
            "org_code": s, "year": YEAR, "amount_fen": amount, "purpose": "培训资料与课时费",
            "project_id": world.project_id if s == S1 else None}), 201)
    settled = await ok(await county.post("/v1/settlements", json={
        "project_id": world.project_id, "county_code": COUNTY, "fee_per_participant_fen": FEE}), 201)
    assert (settled["participants"], settled["amount_fen"], settled["host_id"]) == (4, 200_000, world.host)

    doc = await ok(await county.get(f"/v1/orgs/{COUNTY}/funding", params={"year": YEAR}))
    assert (doc["budget"]["training_budget_fen"], doc["allocated_fen"], doc["spent_fen"], doc["available_fen"]) == (
        3_000_000, 2_100_000, 200_000, 700_000)
    assert doc["ratios"] == {"set_aside_share": None, "funding_ratio": None, "payroll_share": "0.0300",
                             "pass_down_share": "0.7000"}
    assert [(v["rule"], v["threshold_min"], v["compliant"], v["source"]) for v in doc["rules"]] == [
        ("district_payroll_share", "0.03", True, "002 §4.2.2"), ("pass_down_share", "0.70", True, "002 §4.2.2")]
    assert doc["subtree"]["spent_fen"] == 200_000 + 300_000 and doc["subtree"]["public_funds_budget_fen"] == 3_000_000
    assert doc["subtree"]["compliance"] == {
        "school": {"undeclared": 0, "compliant": 2, "not_compliant": 1, "not_judged": 0},
        "county": {"undeclared": 0, "compliant": 1, "not_compliant": 0, "not_judged": 0}}
    for s, flag in ((S1, True), (S2, False), (S3, True)):
        school = await ok(await schools[s].get(f"/v1/orgs/{s}/funding", params={"year": YEAR}))
        # 99,999 / 1,000,000 shows as 0.1000 (half-even, 4 places) and is still below 10%.
        assert school["ratios"]["set_aside_share"] == "0.1000" and school["compliant"] is flag
        assert school["ratios"]["funding_ratio"] == "0.1000" and school["rules"][0]["spending_share"] == "0.1000"
        assert school["rules"][0]["source"] == "002 §4.2.2" and school["available_fen"] == 700_000
    await ok(await schools[S2].put(f"/v1/orgs/{S2}/budgets/{YEAR}", json={
        "public_funds_budget_fen": 1_000_000, "payroll_fen": 0, "training_budget_fen": 100_000}))
    assert await rules(county, S2) == {"school_public_funds_share": True}  # 99,999 + 1 set aside: at the threshold

    # The district's own flags: just below 3% of payroll, just above (pass-down then just below 70%), at.
    for training, payroll_ok, pass_down_ok in ((2_999_999, False, True), (3_000_001, True, False),
                                               (3_000_000, True, True)):
        await ok(await county.put(f"/v1/orgs/{COUNTY}/budgets/{YEAR}", json={
            "public_funds_budget_fen": 0, "payroll_fen": 100_000_000, "training_budget_fen": training}))
        assert await rules(county, COUNTY) == {"district_payroll_share": payroll_ok, "pass_down_share": pass_down_ok}

    # A late check-in (报到) arrives over NATS, next to a duplicate of an earlier one published
    # again under a fresh message id: the count moves by one, and the settlement pays one fee.
    earlier = next(e for e in await published(world.app) if e.type == "TeacherCheckedIn")
    names, bus = funding_app.state.names, funding_app.state.bus
    await bus.js().publish(names.subject("enrollment", earlier.category, earlier.type), earlier.to_json(),
                           headers={"Nats-Msg-Id": f"dup-{earlier.id}"})
    await world.check_in(t3)
    await projected_checkins(fpool, 5)
    again = await ok(await county.post("/v1/settlements", json={
        "project_id": world.project_id, "county_code": COUNTY, "fee_per_participant_fen": FEE}), 201)
    assert (again["participants"], again["amount_fen"], again["previously_settled_fen"], again["delta_fen"]) == (
        5, 250_000, 200_000, FEE)
    # Issue 20: the host reads its own settlements; another host and a school see none of them.
    sheet = await ok(await as_role("host", world.host).get("/v1/settlements", params={"project_id": world.project_id}))
    assert ([(i["county_code"], i["participants"], i["amount_fen"]) for i in sheet["items"]], sheet["total_fen"]) == (
        [(COUNTY, 4, 200_000), (COUNTY, 5, FEE)], 250_000)
    assert (await ok(await county.get("/v1/settlements", params={"project_id": world.project_id})))["total_fen"] == \
        250_000
    for outsider in (as_role("host", str(uuid.uuid4())), schools[S1]):
        assert (await ok(await outsider.get("/v1/settlements", params={"project_id": world.project_id})))[
            "items"] == []
    refused = await as_role("teacher", sub=str(uuid.uuid4())).get("/v1/settlements",
                                                                  params={"project_id": world.project_id})
    assert refused.status_code == 403
    projects = await ok(await county.get(f"/v1/orgs/{COUNTY}/funding/projects", params={"year": YEAR}))
    assert [(p["spent_fen"], p["participants"], p["spent_per_participant_fen"]) for p in projects["items"]] == [
        (350_000, 5, 70_000)]
    own = await ok(await schools[S1].get(f"/v1/orgs/{S1}/funding/projects", params={"year": YEAR}))
    assert [(p["spent_fen"], p["participants"], p["spent_per_participant_fen"]) for p in own["items"]] == [
        (100_000, 3, 33_333)]  # 33,333.33… rounded half-even to whole fen
    assert (await ok(await county.get(f"/v1/orgs/{COUNTY}/funding", params={"year": YEAR})))["spent_fen"] == 250_000


async def snapshot(pool, tables) -> dict:
    return {t: sorted(tuple(r) for r in await pool.fetch(f"SELECT * FROM {t}")) for t in tables}


async def test_every_read_model_rebuilds_to_the_same_rows(world, funding_app, enrollment_app, fpool, keys_dir):
    """After the scenario: the ledger from the funding store, the enrollment copies from the
    enrollment service's /v1/events feed — reset and replayed, they equal the live tables."""
    directory = ("orgs", "hosts", "teachers", "projects", "checkins")
    inline = InlineReplay("funding", funding_app.state.spec.inline)
    await assessed(fpool)  # the assessments of the scenario's last commands recorded
    live = await snapshot(fpool, (*inline.tables, *directory))
    assert live["funding_entries"] and len(live["checkins"]) == 5
    await rebuild(fpool, inline, store_source(fpool, funding_app.state.store, limit=7))
    token = mint_token(keys_dir, "service", sub="funding")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=enrollment_app), base_url="http://e") as client:
        for projection in PROJECTIONS:
            await rebuild(fpool, projection, feed_source("http://e", token, limit=11, client=client))
    assert await snapshot(fpool, (*inline.tables, *directory)) == live
