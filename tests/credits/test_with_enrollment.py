"""End to end with enrollment running: the real enrollment app and the real credits app, each on
its own database, one NATS namespace. Enrollment is driven over HTTP; its relay publishes to
JetStream; the credits intake consumer awards hours; credits is driven over HTTP from there:
a mid-cycle policy change, claims approved and rejected, a revocation, as_of transcripts,
compliance roll-ups, a certificate, and a rebuild of every read model from the events.
"""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest

from shared.clock import shanghai_today as enrollment_today
from tests.conftest import eventually
from tests.credits.given import ok
from tests.credits.seeds import JIANGXI_2018, JIANGXI_2021, body

WEIGHTS, CHECK = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), "10X98765432"
SCHOOL1, SCHOOL2 = "360102001", "360103001"


def national_id(seq: int) -> str:
    body_ = f"360102198503{seq:02d}{100 + seq:03d}"
    return body_ + CHECK[sum(int(c) * w for c, w in zip(body_, WEIGHTS, strict=True)) % 11]


@pytest.fixture(scope="module")
def enrollment_clock(enrollment_app):
    now = {"today": date(2023, 6, 20)}
    enrollment_app.dependency_overrides[enrollment_today] = lambda: now["today"]
    yield now
    enrollment_app.dependency_overrides.pop(enrollment_today, None)


@pytest.fixture(scope="module")
async def run(enrollment_as, enrollment_clock, as_role, clock, credits_app) -> dict:
    """Enrollment: orgs, three teachers, a 60-hour provincial project; t1 and t3 complete it, t2 fails."""
    province = enrollment_as("province_admin", "360000")
    for code, kind, parent in [("360000", "province", None), ("360100", "city", "360000"),
                               ("360102", "county", "360100"), ("360103", "county", "360100"),
                               (SCHOOL1, "school", "360102"), (SCHOOL2, "school", "360103")]:
        await ok(await province.put(f"/v1/orgs/{code}", json={"name": code, "kind": kind, "parent_code": parent}), 201)
    host = str(uuid.uuid4())
    await ok(await province.put(f"/v1/hosts/{host}", json={"name": "南昌师范学院", "province_code": "360000"}), 201)
    t = [(await ok(await province.post("/v1/teachers", json={
        "name": f"教师{i}", "national_id": national_id(i), "school_code": school, "subject": "语文", "stage": "小学",
        "title": "一级教师", "hired_on": "2010-09-01"}), 201))["id"] for i, school in enumerate(
        [SCHOOL1, SCHOOL1, SCHOOL2], start=1)]
    # Credits: Jiangxi's policy as issued, then the 2021 mid-cycle change (published 2021-07-01).
    cp = as_role("province_admin", "360000")
    for today, policy in ((date(2018, 2, 6), JIANGXI_2018), (date(2021, 7, 1), JIANGXI_2021)):
        clock["today"] = today
        await ok(await cp.put("/v1/policies/360000", json=body(policy)), 201)
    pid = (await ok(await province.post("/v1/projects", json={
        "code": "JX2023-SP-01", "name": "省培 小学语文骨干教师培训", "level": "provincial", "category": "骨干教师培训",
        "year": 2023, "host_id": host, "organizer_code": "360000", "hours": 60, "hour_category": "centralized",
        "starts_on": "2023-07-10", "ends_on": "2023-07-14", "practical_ratio": 0.5,
        "modules": [{"name": "师德第一课", "hours": 6, "kind": "ethics"},
                    {"name": "课堂实践", "hours": 30, "practical": True}]}), 201))["id"]
    for action in ("submit-plan", "approve"):
        await ok(await province.post(f"/v1/projects/{pid}/{action}"))
    for region, places in (("360102", 2), ("360103", 1)):
        await ok(await province.put(f"/v1/projects/{pid}/quotas/{region}", json={"places": places}))
    await ok(await province.post(f"/v1/projects/{pid}/open"))
    enrollment_clock["today"] = date(2023, 7, 1)
    enr = [(await ok(await enrollment_as("county_admin", region).post(
        f"/v1/projects/{pid}/nominations", json={"teacher_id": tid, "region_code": region}), 201))["enrollment_id"]
        for tid, region in zip(t, ("360102", "360102", "360103"), strict=True)]
    enrollment_clock["today"] = date(2023, 7, 10)
    hostc = enrollment_as("host", host)
    for eid in enr:
        await ok(await hostc.post(f"/v1/enrollments/{eid}/check-in"))
    await ok(await province.post(f"/v1/projects/{pid}/start"))
    enrollment_clock["today"] = date(2023, 7, 14)
    await ok(await hostc.post(f"/v1/enrollments/{enr[0]}/complete"))
    await ok(await hostc.post(f"/v1/enrollments/{enr[1]}/fail", json={"reason": "过程考核不合格"}))
    await ok(await hostc.post(f"/v1/enrollments/{enr[2]}/complete"))
    clock["today"] = date(2023, 8, 21)
    return {"t1": t[0], "t2": t[1], "t3": t[2]}


async def awards(pool) -> list:
    return await pool.fetch("SELECT data FROM events WHERE type = 'HoursAwarded' ORDER BY position")


async def test_completions_award_hours_once_and_a_failure_awards_nothing(run, cpool, as_role):
    async def both() -> bool:
        return len(await awards(cpool)) >= 2

    await eventually(both, message="two awards from enrollment's completions")
    got = {r["data"]["teacher_id"]: r["data"] for r in await awards(cpool)}
    assert set(got) == {run["t1"], run["t3"]}  # t2 failed: 001 §5.3, no credit
    assert {k: got[run["t1"]][k] for k in ("hours", "category", "school_year", "earned_on", "jurisdiction_code")} == {
        "hours": 60, "category": "centralized", "school_year": 2022, "earned_on": "2023-07-14",
        "jurisdiction_code": "360000"}
    doc = await ok(await as_role("teacher", sub=run["t1"]).get(f"/v1/teachers/{run['t1']}/transcript"))
    y2022 = next(y for y in doc["years"] if y["school_year"] == 2022)
    # Earned in 2023-07, under the 2021 change: 60 / 24 = 2.5 credits, 72 hours a year → not met yet.
    assert (y2022["hours"], y2022["credits"], y2022["target"], y2022["met"]) == (60, 2.5, 72, False)
    failed = await ok(await as_role("school_admin", SCHOOL1).get(f"/v1/teachers/{run['t2']}/transcript"))
    assert failed["entries"] == []


async def test_claims_approved_and_rejected_by_the_right_auditor(run, as_role, cpool):
    auditor = as_role("auditor", "360100")
    submit = as_role("school_admin", SCHOOL1)
    c1 = (await ok(await submit.post("/v1/claims", json={
        "teacher_id": run["t1"], "hours": 12, "category": "workshop", "source": "workshop",
        "earned_on": "2023-08-20", "evidence": "工作坊结业证明 WS-0815"}), 201))["claim_id"]
    c2 = (await ok(await as_role("teacher", sub=run["t2"]).post("/v1/claims", json={
        "teacher_id": run["t2"], "hours": 80, "category": "degree", "source": "degree_study",
        "earned_on": "2023-06-30", "evidence": "学历证书 2023-0630"}), 201))["claim_id"]
    c3 = (await ok(await submit.post("/v1/claims", json={
        "teacher_id": run["t3"], "hours": 12, "category": "school_based", "source": "school_based",
        "earned_on": "2023-08-01", "evidence": "校本研修记录"}), 403))  # a school admin of another school
    assert c3["code"] == "out_of_scope"
    assert (await as_role("auditor", "360200").post(f"/v1/claims/{c1}/approve")).json()["code"] == "out_of_scope"
    assert (await as_role("city_admin", "360100").post(f"/v1/claims/{c1}/approve")).json()["code"] == "forbidden_role"
    await ok(await auditor.post(f"/v1/claims/{c1}/approve"))
    await ok(await auditor.post(f"/v1/claims/{c2}/reject", json={"reason": "学历进修不在本周期认定范围"}))
    c4 = (await ok(await as_role("county_admin", "360103").post("/v1/claims", json={
        "teacher_id": run["t3"], "hours": 12, "category": "school_based", "source": "school_based",
        "earned_on": "2023-08-01", "evidence": "校本研修记录"}), 201))["claim_id"]
    await ok(await as_role("auditor", "360000").post(f"/v1/claims/{c4}/approve"))
    t1 = await ok(await as_role("teacher", sub=run["t1"]).get(f"/v1/teachers/{run['t1']}/transcript"))
    y2022 = next(y for y in t1["years"] if y["school_year"] == 2022)
    assert (y2022["hours"], y2022["credits"], y2022["met"]) == (72, 3, True)  # 72 / 24 = 3.0
    assert (t1["cycle"]["label"], t1["cycle"]["hours"], t1["cycle"]["target"], t1["cycle"]["progress"]) == (
        "2018—2022周期", 72, 336, 0.2142)
    t2 = await ok(await as_role("teacher", sub=run["t2"]).get(f"/v1/teachers/{run['t2']}/transcript"))
    assert t2["entries"] == []
    run["compliance_before"] = await compliance(as_role, 2)


async def compliance(as_role, meeting: int) -> dict:
    province = as_role("province_admin", "360000")

    async def settled() -> bool:
        return (await province.get("/v1/orgs/360000/compliance?year=2022")).json().get("meeting") == meeting

    await eventually(settled, message=f"{meeting} teachers meeting the 2022 target")
    return await ok(await province.get("/v1/orgs/360000/compliance?year=2022"))


async def test_compliance_rolls_up_and_a_revocation_shows_in_it_and_in_as_of(run, as_role, cpool, clock):
    before = run["compliance_before"]
    assert (before["teachers"], before["meeting"], before["share"]) == (3, 2, 0.6666)
    assert (before["year"], before["year_kind"], before["year_label"]) == (2022, "school_year", "2022学年")
    assert [(c["code"], c["teachers"], c["meeting"]) for c in before["children"]] == [("360100", 3, 2)]
    award = await cpool.fetchval("SELECT entry_id FROM entries WHERE teacher_id = $1 AND kind = 'award'",
                                 uuid.UUID(run["t3"]))
    clock["today"] = date(2023, 8, 25)
    await ok(await as_role("auditor", "360103").post(f"/v1/entries/{award}/revoke", json={"reason": "签到造假"}))
    after = await compliance(as_role, 1)
    assert (after["teachers"], after["meeting"], after["share"]) == (3, 1, 0.3333)
    county = await ok(await as_role("city_admin", "360100").get("/v1/orgs/360100/compliance?year=2022"))
    assert [(c["code"], c["teachers"], c["meeting"], c["share"]) for c in county["children"]] == [
        ("360102", 2, 1, 0.5), ("360103", 1, 0, 0)]
    reader = as_role("county_admin", "360103")
    now = await ok(await reader.get(f"/v1/teachers/{run['t3']}/transcript"))
    then = await ok(await reader.get(f"/v1/teachers/{run['t3']}/transcript?as_of=2023-08-24"))
    hours = [{y["school_year"]: (y["hours"], y["met"]) for y in doc["years"]}[2022] for doc in (now, then)]
    assert hours == [(12, False), (72, True)]
    assert [e["kind"] for e in now["entries"]] == ["entry", "entry", "revocation"]
    assert [e["kind"] for e in then["entries"]] == ["entry", "entry"]


async def test_certificate_for_the_school_year(run, as_role):
    cert = await ok(await as_role("teacher", sub=run["t1"]).post(
        f"/v1/teachers/{run['t1']}/certificates", json={"year": 2022}), 201)
    shown = await ok(await as_role(None).get(f"/v1/certificates/{cert['certificate_no']}"))
    assert (shown["valid"], shown["hours"], shown["credits"], shown["label"]) == (True, 72, 3, "2022学年")


async def test_every_read_model_rebuilds_from_the_events(run, as_role, cpool, credits_app, enrollment_app, token):
    readers = [("teacher", None, t) for t in (run["t1"], run["t2"], run["t3"])]

    async def snapshot() -> list:
        docs = [(await ok(await as_role(r, o, sub=s).get(f"/v1/teachers/{s}/transcript"))) for r, o, s in readers]
        docs.append(await compliance(as_role, 1))
        docs.append(await ok(await as_role("auditor", "360000").get("/v1/claims")))
        return docs

    live, events_before = await snapshot(), await cpool.fetchval("SELECT count(*) FROM events")
    credits_app.state.settings.service_token = token("service")
    credits_app.state.enrollment_feed_client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=enrollment_app), base_url="http://enrollment")
    for source in ("feed", "stream"):
        done = await ok(await as_role("service").post("/v1/admin/rebuild", json={"source": source}))
        assert set(done["rebuilt"]) == {"ledger", "intake", "compliance"} and done["rebuilt"]["intake"] > 0
        assert await snapshot() == live
        assert await cpool.fetchval("SELECT count(*) FROM events") == events_before  # nothing awarded twice
    teacher_only = await as_role("teacher", sub=run["t1"]).post("/v1/admin/rebuild", json={})
    assert teacher_only.status_code == 403
