"""Per-participant settlement (001 §6.7) on the real app, with check-ins delivered to the funding
service's projection the way the NATS consumer delivers them (acceptance 2): redelivered and
duplicated events change no count and no amount, and a settlement recomputed after a late
check-in pays only the difference."""

from __future__ import annotations

import pytest

from shared.projection import Outcome
from tests.funding.given import Upstream, ok, refused, written

COUNTY, OTHER = "330106", "330108"
FEE = 12_345  # fen per participant


@pytest.fixture(scope="module")
async def up(fpool) -> Upstream:
    upstream = Upstream(fpool)
    await upstream.tree("hangzhou")
    return upstream


@pytest.fixture(scope="module")
def county(as_role, up):
    return as_role("county_admin", COUNTY)


async def funded_project(up: Upstream, county, year: int, training: int = 1_000_000) -> tuple[str, str]:
    host = await up.host("330000")
    pid = await up.project(host, "330000", year=year)
    await ok(await county.put(f"/v1/orgs/{COUNTY}/budgets/{year}", json={
        "public_funds_budget_fen": 0, "payroll_fen": 0, "training_budget_fen": training}), 201)
    return pid, host


async def settle(client, pid: str, fee: int = FEE, county: str = COUNTY, **kw):
    return await client.post("/v1/settlements", json={"project_id": pid, "county_code": county,
                                                      "fee_per_participant_fen": fee}, **kw)


async def checked_in(up: Upstream, pid: str, host: str, school: str, region: str = COUNTY):
    env = await up.checkin(pid, await up.teacher(school), region, host)
    await up.deliver(env)
    return env


async def test_participants_are_the_countys_checked_in_teachers(up, county, fpool):
    pid, host = await funded_project(up, county, 2051)
    for school in ("330106001", "330106002", "330106003"):
        await checked_in(up, pid, host, school)
    await checked_in(up, pid, host, "330106001", region="330100")  # nominated by the city, school in the county
    await checked_in(up, pid, host, "330108001", region=OTHER)  # another county: not ours to pay
    doc = await ok(await settle(county, pid), 201)
    assert {k: doc[k] for k in ("participants", "fee_per_participant_fen", "amount_fen", "previously_settled_fen",
                                "delta_fen", "host_id", "year", "recorded")} == {
        "participants": 4, "fee_per_participant_fen": FEE, "amount_fen": 4 * FEE, "previously_settled_fen": 0,
        "delta_fen": 4 * FEE, "host_id": host, "year": 2051, "recorded": True}
    assert doc["derivation"] == f"4 × {FEE} = {4 * FEE} fen; {4 * FEE} − 0 settled before = {4 * FEE} fen"
    funding = await ok(await county.get(f"/v1/orgs/{COUNTY}/funding", params={"year": 2051}))
    assert funding["spent_fen"] == 4 * FEE
    projects = await ok(await county.get(f"/v1/orgs/{COUNTY}/funding/projects", params={"year": 2051}))
    assert [(p["project_id"], p["spent_fen"], p["participants"], p["spent_per_participant_fen"])
            for p in projects["items"]] == [(pid, 4 * FEE, 4, FEE)]


async def test_redelivered_and_duplicated_check_ins_change_nothing(up, county, fpool):
    pid, host = await funded_project(up, county, 2052)
    envs = [await checked_in(up, pid, host, "330106001") for _ in range(3)]
    await ok(await settle(county, pid), 201)
    before = await written(fpool), await fpool.fetchval("SELECT count(*) FROM checkins")
    # Redelivery (NATS after a lost ack): the checkpoint says "already applied".
    outcomes = await up.deliver(*envs)
    assert {o for per_projection in outcomes for o in per_projection} == {Outcome.DUPLICATE}
    # Even with the checkpoints gone (a replay from scratch), the rows are keyed by enrollment.
    await fpool.execute("DELETE FROM projection_checkpoints WHERE projection = 'funding_checkins'")
    await up.deliver(*envs)
    assert (await written(fpool), await fpool.fetchval("SELECT count(*) FROM checkins")) == before
    recomputed = await settle(county, pid)  # nothing new: 200, no event, no money
    assert (await ok(recomputed))["delta_fen"] == 0 and recomputed.json()["recorded"] is False
    assert await written(fpool) == before[0]


async def test_a_late_check_in_is_paid_as_the_difference_only(up, county, fpool):
    pid, host = await funded_project(up, county, 2053)
    for _ in range(2):
        await checked_in(up, pid, host, "330106002")
    first = await ok(await settle(county, pid), 201)
    await checked_in(up, pid, host, "330106003")  # arrives after the first settlement
    second = await ok(await settle(county, pid), 201)
    assert (first["amount_fen"], second["amount_fen"]) == (2 * FEE, 3 * FEE)
    assert (second["previously_settled_fen"], second["delta_fen"], second["participants"]) == (2 * FEE, FEE, 3)
    entries = await ok(await county.get(f"/v1/orgs/{COUNTY}/funding/entries", params={"year": 2053}))
    assert [(e["kind"], e["amount_fen"]) for e in entries["items"]] == [("settlement", 2 * FEE), ("settlement", FEE)]
    assert (await ok(await county.get(f"/v1/orgs/{COUNTY}/funding", params={"year": 2053})))["spent_fen"] == 3 * FEE
    # A corrected (lower) fee credits the difference back.
    third = await ok(await settle(county, pid, fee=FEE - 1), 201)
    assert (third["amount_fen"], third["delta_fen"]) == (3 * (FEE - 1), -3)


async def test_an_idempotent_retry_settles_once(up, county, fpool):
    pid, host = await funded_project(up, county, 2054)
    await checked_in(up, pid, host, "330106001")
    key = {"Idempotency-Key": "settle-2054"}
    a, b = await settle(county, pid, headers=key), await settle(county, pid, headers=key)
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    assert await fpool.fetchval("SELECT count(*) FROM events WHERE type = 'SettlementCalculated' "
                                "AND data->>'project_id' = $1", pid) == 1


async def test_settlement_refusals_write_nothing(up, county, as_role, fpool):
    pid, host = await funded_project(up, county, 2055, training=FEE * 2)
    empty = await up.project(host, "330000", year=2055)
    for _ in range(3):
        await checked_in(up, pid, host, "330106001")
    before = await written(fpool)
    refused(await settle(county, pid), 409, "insufficient_funds")  # 3 × FEE > 2 × FEE available
    refused(await settle(county, empty), 409, "no_participants")
    refused(await settle(county, "00000000-0000-0000-0000-000000000000"), 404, "project_not_found")
    refused(await settle(county, pid, fee=0), 422, "validation_error")
    refused(await settle(county, pid, fee=1.5), 422, "validation_error")
    refused(await settle(county, pid, fee=10**14 * 5), 422, "invalid_amount")  # 3 × fee beyond the cap
    refused(await settle(as_role("county_admin", OTHER), pid), 403, "out_of_scope")
    refused(await settle(as_role("school_admin", "330106001"), pid), 403, "forbidden_role")
    refused(await settle(as_role("province_admin", "330000"), pid, county="330100"), 403, "forbidden_role")
    refused(await settle(as_role("county_admin", "330100"), pid, county="330100"), 403, "forbidden_role")
    assert await written(fpool) == before
