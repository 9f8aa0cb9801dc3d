"""All four services together, for the tests that need the whole system: a realistic world
played through their HTTP APIs over real NATS (`populate`), every read-model table of a service
(`tables_of`, `snapshot`), and every projection of a service rebuilt from the record
(`rebuild_everything`). tests/test_rebuild_all.py and tests/test_backup_restore.py use them."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import httpx

from shared.clock import shanghai_today
from shared.envelope import Envelope
from shared.feed import feed_source, store_source
from shared.inline import InlineReplay
from shared.projection import Projection, rebuild
from tests.conftest import caught_up, client_for, eventually, peers
from tests.kernel import KERNEL_TABLES as KERNEL
from tests.reporting.scenario import C1, PROVINCE, S1, Scenario, play

# The roster's personal data is its own system of record: events never carry a name or an ID
# number (services/enrollment/pii.py), so no event can rebuild it, by design.
SYSTEMS_OF_RECORD = {"enrollment": {"teacher_identities"}}
SERVICES = ("enrollment", "credits", "funding", "reporting")


@contextlib.asynccontextmanager
async def four_services(launch, keys_dir: Path, **kw) -> AsyncIterator[dict]:
    """The four services as in-process apps (tests/conftest.py `launch`), each other's peers.
    `database_urls` (service → URL) starts them on existing databases, e.g. restored ones;
    other keyword arguments are Settings overrides for all four (e.g. bus_namespace)."""
    from shared.devkeys import mint_token

    urls = kw.pop("database_urls", {})
    token = mint_token(keys_dir, "service", sub="rebuild-test")
    async with contextlib.AsyncExitStack() as stack:
        apps = {s: await stack.enter_async_context(launch(s, database_url=urls.get(s), **kw, **(
            {} if s == "enrollment" else {"service_token": token}))) for s in SERVICES}
        await stack.enter_async_context(peers(apps))
        yield apps


async def at_head(apps: dict) -> None:
    """Until every consumer projection of every service has applied its sources' every event —
    read afresh each time: reactions (credits' awards, funding's assessments) append more."""

    async def done() -> bool:
        return all([await caught_up(app, p.name, apps[source]) for app in apps.values()
                    for p in app.state.spec.projections for source in p.sources])

    await eventually(done, timeout=120, message="every projection at its sources' heads")


async def populate(apps: dict, keys_dir: Path) -> Scenario:
    """A realistic flow through all four services' HTTP APIs, waited on until every consumer
    projection has applied it: orgs, roster, projects, nominations, check-ins, attendance and
    leave, completions → credits (awards, claims, a revocation, a certificate, reminders), budgets,
    allocations, spending, a reversal and a settlement → funding; reporting reads all of it."""
    enrollment, credits, funding = apps["enrollment"], apps["credits"], apps["funding"]
    as_e = client_for(enrollment, keys_dir, "http://enrollment")
    s = Scenario(enrollment, as_e)
    clock = {"credits": date(2023, 6, 1), "funding": date(2023, 6, 1)}
    credits.dependency_overrides[shanghai_today] = lambda: clock["credits"]
    funding.dependency_overrides[shanghai_today] = lambda: clock["funding"]
    as_c, as_f = client_for(credits, keys_dir, "http://credits"), client_for(funding, keys_dir, "http://funding")

    # Credits: Shaanxi's policy before anything is earned, so awards are judged under it.
    await ok(await as_c("province_admin", PROVINCE).put(f"/v1/policies/{PROVINCE}", json={
        "effective_from": "2022-09-01", "cycle_years": 5, "cycle_start_year": 2022, "hours_per_credit": 10,
        "annual_hours": 60, "cycle_hours": 300,
        # Awards of centralized projects count as professional hours (the category map, issue 15).
        "categories": [{"code": "professional", "name": "专业科目", "min_hours": 20},
                       {"code": "workshop", "name": "工作坊研修"}],
        "category_map": {"centralized": "professional"}}), 201)
    await play(s)  # enrollment: three projects, nominations to no-shows (tests/reporting/scenario.py)

    # More of enrollment: a county project still running, with attendance one by one and by CSV.
    await s.project("P4", "county", "H1", C1, "2023-10-10", "2023-10-20", 30, {C1: 3})
    s.today = date(2023, 9, 20)
    for t in ("T5", "T6"):
        s.enrollments[("P4", t)] = (await ok(await s.county[C1].post(
            f"/v1/projects/{s.projects['P4']}/nominations", json={"teacher_id": s.teachers[t], "region_code": C1}),
            201))["enrollment_id"]
    s.today = date(2023, 10, 10)
    host = as_e("host", s.hosts["H1"])
    for t in ("T5", "T6"):
        await ok(await host.post(f"/v1/enrollments/{s.enrollments[('P4', t)]}/check-in"))
    await s.lifecycle("2023-10-10", "P4", "start")
    s.today = date(2023, 10, 12)
    await ok(await host.post(f"/v1/enrollments/{s.enrollments[('P4', 'T5')]}/attendance", json={
        "session_date": "2023-10-10", "status": "present", "hours": 6}))
    # T6's 请假 is approved first (002 §4.1.3): the host records the request on the teacher's behalf.
    leave = f"/v1/enrollments/{s.enrollments[('P4', 'T6')]}/leave-requests"
    await ok(await host.post(leave, json={"session_date": "2023-10-11", "reason": "病假"}), 201)
    await ok(await host.post(f"{leave}/2023-10-11/approve", json={}))
    csv = "enrollment_id,session_date,status,hours\n" + "".join(
        f"{s.enrollments[('P4', t)]},2023-10-11,{st},{h}\n" for t, st, h in (("T5", "present", 6), ("T6", "leave", 0)))
    await ok(await host.post(f"/v1/projects/{s.projects['P4']}/attendance/import",
                              files={"file": ("attendance.csv", csv.encode(), "text/csv")}), 200, 201)
    await ok(await as_e("province_admin", PROVINCE).put(f"/v1/projects/{s.projects['P4']}/quotas/{C1}",
                                                         json={"places": 2}))
    roster = "name,national_id,school_code,subject,stage,title,hired_on\n" + "".join(
        f"导入{i},{national_id(70 + i)},{S1},数学,初中,二级教师,2019-09-01\n" for i in range(3))
    await ok(await as_e("province_admin", PROVINCE).post(
        "/v1/teachers/import", files={"file": ("roster.csv", roster.encode(), "text/csv")}), 200, 201)

    # Credits: a claim approved, one rejected, an award revoked, a certificate.
    await at_head(apps)
    clock["credits"] = date(2023, 10, 8)
    auditor = as_c("auditor", PROVINCE)
    t1 = s.teachers["T1"]
    claims = []
    for hours in (12, 30):
        claims.append((await ok(await as_c("teacher", sub=t1).post("/v1/claims", json={
            "teacher_id": t1, "hours": hours, "category": "workshop", "source": "workshop",
            "earned_on": "2023-09-15", "evidence": "校本研修档案 2023-017"}), 201))["claim_id"])
    await ok(await auditor.post(f"/v1/claims/{claims[0]}/approve", json={}))
    await ok(await auditor.post(f"/v1/claims/{claims[1]}/reject", json={"reason": "证明材料不全"}))
    entry = str(await credits.state.pool.fetchval(
        "SELECT entry_id FROM entries WHERE teacher_id = $1 AND kind = 'award'", uuid.UUID(s.teachers["U3"])))
    await ok(await auditor.post(f"/v1/entries/{entry}/revoke", json={"reason": "重复登记"}))
    await ok(await as_c("teacher", sub=t1).post(f"/v1/teachers/{t1}/certificates", json={"year": 2022}), 201)
    await at_head(apps)  # the awards' hours are in teacher_years before the reminders judge them
    await ok(await as_c("province_admin", PROVINCE).post("/v1/reminders/short-of-hours", json={
        "org_code": PROVINCE, "year": 2023}), 201)

    # Funding: policy, budgets, an allocation, spending, a reversal, a settlement from check-ins.
    clock["funding"] = date(2023, 9, 1)
    await ok(await as_f("province_admin", PROVINCE).put(f"/v1/policies/{PROVINCE}", json={
        "effective_from": "2023-01-01", "school_public_funds_share": "0.05", "district_payroll_share_min": "0.03",
        "pass_down_min": "0.7"}), 201)
    county = as_f("county_admin", C1)
    await ok(await county.put(f"/v1/orgs/{C1}/budgets/2023", json={
        "public_funds_budget_fen": 0, "payroll_fen": 1_000_000_000, "training_budget_fen": 30_000_000}), 201)
    await ok(await as_f("school_admin", S1).put(f"/v1/orgs/{S1}/budgets/2023", json={
        "public_funds_budget_fen": 2_000_000, "payroll_fen": 0, "training_budget_fen": 0}), 201)
    await ok(await county.post("/v1/allocations", json={"from_code": C1, "to_code": S1, "year": 2023,
                                                          "amount_fen": 21_000_000}), 201)
    spent = (await ok(await as_f("school_admin", S1).post("/v1/disbursements", json={
        "org_code": S1, "year": 2023, "amount_fen": 150_000, "purpose": "培训资料"}), 201))["disbursement_id"]
    await ok(await as_f("school_admin", S1).post(f"/v1/disbursements/{spent}/reverse", json={"reason": "多付"}))
    await ok(await county.post("/v1/disbursements", json={
        "org_code": C1, "year": 2023, "amount_fen": 80_000, "purpose": "培训课时费",
        "project_id": s.projects["P1"]}), 201)
    await ok(await county.post("/v1/settlements", json={"project_id": s.projects["P1"], "county_code": C1,
                                                          "fee_per_participant_fen": 50_000}), 201)
    await at_head(apps)
    return s


def national_id(seq: int) -> str:
    weights, check = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), "10X98765432"
    body = f"610102198603{seq % 28 + 1:02d}{300 + seq:03d}"
    return body + check[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


async def ok(response: httpx.Response, *status: int) -> dict:
    assert response.status_code in (status or (200,)), f"{response.request.url}: {response.status_code} " \
                                                       f"{response.text}"
    return response.json()


async def tables_of(pool) -> set[str]:
    rows = await pool.fetch("SELECT table_name FROM information_schema.tables"
                            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
    return {r["table_name"] for r in rows} - KERNEL


async def snapshot(pool, tables: set[str]) -> dict[str, list[str]]:
    """Each table's rows as JSON text, sorted: equal snapshots are equal tables, row for row."""
    return {t: sorted(r[0] for r in await pool.fetch(f"SELECT to_jsonb(x)::text FROM {t} x")) for t in sorted(tables)}


def _source(app, service: str, peers: dict) -> AsyncIterator[list[Envelope]]:
    if service == app.state.spec.name:
        return store_source(app.state.pool, app.state.store)
    return feed_source(f"http://{service}", app.state.settings.service_token, client=peers[service])


async def _chain(app, projection: Projection, peers: dict) -> AsyncIterator[list[Envelope]]:
    for service in projection.sources:
        async for batch in _source(app, service, peers):
            yield batch


async def rebuild_everything(app) -> set[str]:
    """Every projection of the service rebuilt from the record; returns the tables they declare."""
    spec, pool, peers = app.state.spec, app.state.pool, app.state.peer_clients
    covered: set[str] = set()
    if spec.inline:
        replay = InlineReplay(spec.name, spec.inline)
        await rebuild(pool, replay, store_source(pool, app.state.store))
        covered |= set(replay.tables)
    for p in spec.projections:
        await rebuild(pool, p, _chain(app, p, peers))
        covered |= set(p.tables)
    return covered
