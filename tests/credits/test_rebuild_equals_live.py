"""Every table of the credits service rebuilds from the events, equal to the live copy row for row.

Given a realistic history — enrollment's org tree, teachers and completions arriving over
JetStream (awarded by the live intake consumer), policy versions, claims approved, rejected and
revoked, an award revoked, a certificate issued, all through the HTTP API; an award recorded in
the shape HoursAwarded had before the category map (no `hour_category`, no `policy_version`), a
county policy with a category map and an award mapped by it, short-of-hours reminders — every non-kernel
table is snapshotted, emptied, and rebuilt by POST /v1/admin/rebuild (our inline tables from our
event store, the intake from enrollment's stream, teacher_years from our store). A table that no
rebuild refills comes back empty and fails the comparison; the scenario fills every table, so a
new table must be covered here too.
"""

from __future__ import annotations

import uuid
from datetime import date

import nats
import pytest

from services.credits.events import registry, store
from services.credits.projector import INLINE
from shared.bus import BusNames
from shared.envelope import Metadata
from shared.eventstore import NO_STREAM
from shared.inline import new_events, project_and_append
from tests.conftest import eventually
from tests.credits.given import completed, jiangxi_tree, ok, teacher
from tests.credits.seeds import JIANGXI_2018, JIANGXI_2021, body
from tests.kernel import KERNEL_TABLES as KERNEL

SCHOOL, OTHER = "360102001", "360103001"


async def tables(pool) -> list[str]:
    rows = await pool.fetch("""SELECT table_name FROM information_schema.tables
                               WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'""")
    return sorted({r["table_name"] for r in rows} - KERNEL)


async def snapshot(pool) -> dict[str, list[tuple]]:
    out = {}
    for table in await tables(pool):
        rows = await pool.fetch(f'SELECT * FROM "{table}"')
        out[table] = sorted((tuple(r.values()) for r in rows), key=repr)
    return out


async def publish_enrollment(nats_url: str, namespace: str, events: list) -> None:
    """Enrollment's events as its relay publishes them, for the live intake consumer."""
    names, nc = BusNames(namespace), await nats.connect(nats_url)
    try:
        js = nc.jetstream()

        async def provisioned() -> bool:  # the credits app creates the streams it consumes at start
            try:
                return bool(await js.stream_info(names.stream("enrollment")))
            except nats.js.errors.NotFoundError:
                return False

        await eventually(provisioned, message="enrollment's stream provisioned")
        for env in events:
            await js.publish(names.subject("enrollment", env.category, env.type), env.to_json(),
                             headers={"Nats-Msg-Id": str(env.id)})
    finally:
        await nc.close()


async def caught_up(pool, projection: str) -> bool:
    head = await pool.fetchval("SELECT coalesce(max(position), 0) FROM events")
    at = await pool.fetchval("SELECT last_position FROM projection_state WHERE projection = $1", projection)
    return at == head


@pytest.fixture(scope="module")
async def history(credits_app, as_role, clock, cpool, nats_url, module_namespace) -> dict:
    t1, t2, t3, t4 = (teacher(s) for s in (SCHOOL, SCHOOL, OTHER, OTHER))
    ids = [t.data["teacher_id"] for t in (t1, t2, t3, t4)]
    await publish_enrollment(nats_url, module_namespace, [
        *jiangxi_tree(), t1, t2, t3, t4, completed(ids[0], 60, "2023-07-14", "360102"),
        completed(ids[1], 72, "2023-07-14", "360102"), completed(ids[2], 45.5, "2023-05-20", "360103")])

    async def awarded() -> bool:
        return await cpool.fetchval("SELECT count(*) FROM entries WHERE kind = 'award'") == 3

    await eventually(awarded, timeout=30, message="the intake consumer awarded the completions")
    province = as_role("province_admin", "360000")
    for today, policy in ((date(2018, 2, 6), JIANGXI_2018), (date(2021, 7, 1), JIANGXI_2021)):
        clock["today"] = today
        await ok(await province.put("/v1/policies/360000", json=body(policy)), 201)
    clock["today"] = date(2023, 8, 21)
    auditor, admin = as_role("auditor", "360000"), as_role("county_admin", "360102")

    async def claim(tid: str, hours: float, who) -> str:
        return (await ok(await who.post("/v1/claims", json={
            "teacher_id": tid, "hours": hours, "category": "workshop", "source": "workshop",
            "earned_on": "2023-08-01", "evidence": "工作坊结业证明 WS-0801"}), 201))["claim_id"]

    approved, rejected = await claim(ids[0], 12, admin), await claim(ids[1], 8, admin)
    revoked = await claim(ids[2], 20, as_role("teacher", sub=ids[2]))
    await ok(await auditor.post(f"/v1/claims/{approved}/approve"))
    await ok(await auditor.post(f"/v1/claims/{rejected}/reject", json={"reason": "证明材料不全"}))
    await ok(await auditor.post(f"/v1/claims/{revoked}/approve", json={"reason": "校本研修认定"}))
    clock["today"] = date(2023, 8, 25)
    await ok(await auditor.post(f"/v1/entries/{revoked}/revoke", json={"reason": "重复申报"}))
    award = await cpool.fetchval("SELECT entry_id FROM entries WHERE teacher_id = $1 AND kind = 'award'",
                                 uuid.UUID(ids[1]))
    await ok(await auditor.post(f"/v1/entries/{award}/revoke", json={"reason": "签到造假"}))
    await ok(await as_role("teacher", sub=ids[0]).post(f"/v1/teachers/{ids[0]}/certificates",
                                                       json={"year": 2022}), 201)
    # An award as recorded before the category map: no hour_category, no policy_version.
    old_entry = str(uuid.uuid4())
    old = {"entry_id": old_entry, "teacher_id": ids[3], "hours": 10, "category": "online", "earned_on": "2023-06-01",
           "recorded_on": "2023-06-01", "school_year": 2022, "org_code": OTHER, "jurisdiction_code": "360000",
           "policy_effective_from": "2021-09-01",
           "source": {"type": "enrollment", "event_id": str(uuid.uuid4()), "enrollment_id": str(uuid.uuid4())}}
    async with cpool.acquire() as conn, conn.transaction():
        await project_and_append(conn, store, INLINE, [(f"award-{old_entry}", NO_STREAM, new_events(
            registry, [("HoursAwarded", old)]), Metadata(actor={"sub": "credits", "role": "service"}))])
    # A county policy with a category map (retroactive), then an award it maps, then reminders.
    await ok(await as_role("county_admin", "360103").put("/v1/policies/360103", json={
        "effective_from": "2023-01-01", "cycle_years": 5, "cycle_start_year": 2018, "annual_hours": 60,
        "categories": [{"code": "professional", "name": "专业科目", "min_hours": 30},
                       {"code": "workshop", "name": "工作坊研修"}],
        "category_map": {"centralized": "professional"}}), 201)
    await publish_enrollment(nats_url, module_namespace, [completed(ids[3], 24, "2023-07-20", "360103")])

    async def mapped() -> bool:
        return await cpool.fetchval("SELECT count(*) FROM entries WHERE category = 'professional'") == 1

    await eventually(mapped, timeout=30, message="the completion awarded in its mapped category")
    await eventually(lambda: caught_up(cpool, "credits_compliance"), message="teacher_years caught up")
    sent = await ok(await as_role("county_admin", "360103").post("/v1/reminders/short-of-hours", json={
        "org_code": "360103", "year": 2022}), 201)
    assert sent["published"] == 2
    return {"teachers": ids}


async def test_every_table_rebuilt_from_the_events_equals_the_live_one(history, as_role, cpool):
    live = await snapshot(cpool)
    assert set(live) == {"org_tree", "teacher_schools", "policies", "entries", "claims", "certificates",
                         "teacher_years"}
    assert all(live.values()), {t: len(rows) for t, rows in live.items()}  # the scenario fills every table
    review = await cpool.fetchrow("SELECT array_agg(DISTINCT status) AS statuses, bool_or(revoked) AS revoked,"
                                  " (SELECT count(*) FROM entries WHERE revoked_on IS NOT NULL) AS revocations"
                                  " FROM claims")
    assert (sorted(review["statuses"]), review["revoked"], review["revocations"]) == (["approved", "rejected"],
                                                                                      True, 2)
    events = await cpool.fetchval("SELECT count(*) FROM events")
    assert await cpool.fetchval("SELECT count(*) FROM events WHERE type = 'TeacherShortOfHours'") == 2
    assert await cpool.fetchval("SELECT count(*) FROM events WHERE type = 'HoursAwarded' "
                                "AND NOT data ? 'policy_version'") == 1
    await cpool.execute(f"TRUNCATE {', '.join(live)}")
    done = await ok(await as_role("service").post("/v1/admin/rebuild", json={"source": "stream"}))
    assert set(done["rebuilt"]) == {"ledger", "intake", "compliance"}
    rebuilt = await snapshot(cpool)
    for table, rows in live.items():
        assert rebuilt[table] == rows, table
    assert await cpool.fetchval("SELECT count(*) FROM events") == events  # nothing awarded twice
