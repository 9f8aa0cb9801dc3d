"""Every table of the enrollment service, guards included, rebuilt from the event store equals
the live table row for row, after a scenario through the HTTP API that exercises every event:
orgs and hosts registered and renamed, teachers registered and imported, projects drafted,
run, closed and cancelled, quotas allocated and reallocated, nominations, a replacement, a
withdrawal, check-ins, attendance one by one and from a CSV file, assessments, completion,
failure, no-shows with and without a special reason (a bar), evaluations and bulletins, a city's
split of its places to its counties (004 §2.2) and close-out materials delivered (004 §3.3).

A table the rebuild does not cover fails the test, unless the kernel owns it or the service
names it with its reason (projector.NOT_REBUILT: the roster's PII is no projection)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.enrollment.main import spec
from services.enrollment.projector import NOT_REBUILT
from shared.clock import shanghai_today
from shared.feed import store_source
from shared.inline import InlineReplay
from shared.projection import rebuild
from tests.enrollment.test_national_id import make_id
from tests.kernel import KERNEL_TABLES as KERNEL

PROVINCE, CITY, COUNTY, COUNTY2 = "610000", "610100", "610102", "610103"
SCHOOL, SCHOOL2 = "610102001", "610103001"


@pytest.fixture(scope="module")
def clock(enrollment_app):
    now = {"today": date(2023, 6, 1)}
    enrollment_app.dependency_overrides[shanghai_today] = lambda: now["today"]
    yield now
    enrollment_app.dependency_overrides.pop(shanghai_today, None)


async def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def project(code: str, host: str, **changes) -> dict:
    return {"code": code, "name": "国培计划", "level": "national", "category": "农村骨干教师分层分类培训",
            "year": 2023, "host_id": host, "organizer_code": PROVINCE, "hours": 90, "hour_category": "centralized",
            "starts_on": "2023-07-15", "ends_on": "2023-07-24", "cross_year": False, "practical_ratio": 0.5,
            "modules": [{"name": "师德第一课", "hours": 10, "kind": "ethics"},
                        {"name": "课堂实践", "hours": 45, "practical": True}]} | changes


async def scenario(as_role, clock) -> None:
    province, county, county2 = (as_role("province_admin", PROVINCE), as_role("county_admin", COUNTY),
                                 as_role("county_admin", COUNTY2))
    for code, kind, parent in [(PROVINCE, "province", None), (CITY, "city", PROVINCE), (COUNTY, "county", CITY),
                               (COUNTY2, "county", CITY), (SCHOOL, "school", COUNTY), (SCHOOL2, "school", COUNTY2)]:
        await ok(await province.put(f"/v1/orgs/{code}", json={"name": f"机构{code}", "kind": kind,
                                                               "parent_code": parent}), 201)
    await ok(await province.put(f"/v1/orgs/{SCHOOL}", json={"name": "新城区第一中学", "kind": "school",
                                                            "parent_code": COUNTY}))  # a rename
    host = str(uuid.uuid4())
    for name in ("陕西师范大学", "陕西师范大学继续教育学院"):
        await province.put(f"/v1/hosts/{host}", json={"name": name, "province_code": PROVINCE})

    teachers = [(await ok(await province.post("/v1/teachers", json={
        "name": f"教师{i}", "national_id": make_id("610102", "19850312", f"{100 + i}"), "school_code": school,
        "subject": "数学", "stage": "初中", "title": "一级教师", "hired_on": "2010-09-01"}), 201))["id"]
        for i, school in enumerate([SCHOOL] * 4 + [SCHOOL2] * 2, start=1)]
    sheet = "name,national_id,school_code,subject,stage,title,hired_on\n" + "".join(
        f"教师{i},{make_id('610102', '19860101', f'{200 + i}')},{SCHOOL},语文,小学,,2012-09-01\n" for i in range(3))
    imported = (await ok(await province.post("/v1/teachers/import", content=sheet.encode(),
                                             headers={"content-type": "text/csv"}), 201))["teacher_ids"]
    t1, t2, t3, t4, t5, t6 = teachers
    t7, t8, t9 = imported

    # The province's enrollment policy: a first version, and a correction of it (a second row).
    # The correction also halves the attendance share completion needs (e5: one leave, one present).
    for window in (25, 30):
        await ok(await province.put(f"/v1/policies/{PROVINCE}", json={
            "effective_from": "2023-01-01", "nomination_window_days": window,
            "min_attendance_share": 0.8 if window == 25 else 0.5}), 201 if window == 25 else 200)
    pid = (await ok(await province.post("/v1/projects", json=project("GP2023-01", host)), 201))["id"]
    cancelled = (await ok(await province.post("/v1/projects", json=project("GP2023-02", host)), 201))["id"]
    await ok(await province.post(f"/v1/projects/{cancelled}/cancel", json={"reason": "合并"}))
    for action in ("submit-plan", "approve"):
        await ok(await province.post(f"/v1/projects/{pid}/{action}"))
    for region, places in ((COUNTY, 2), (COUNTY2, 2), (COUNTY, 5)):  # the county's quota reallocated
        await ok(await province.put(f"/v1/projects/{pid}/quotas/{region}", json={"places": places}))
    await ok(await province.post(f"/v1/projects/{pid}/open"))
    # A 2023–2024 cross-year project (004 §3.2): its place holds a national slot in both years.
    cross = (await ok(await province.post("/v1/projects", json=project(
        "GP2023-03", host, category="市县教师培训团队研修", cross_year=True, first_year_ends_on="2023-11-20",
        ends_on="2024-06-30")), 201))["id"]
    for action in ("submit-plan", "approve"):
        await ok(await province.post(f"/v1/projects/{cross}/{action}"))
    await ok(await province.put(f"/v1/projects/{cross}/quotas/{COUNTY}", json={"places": 2}))
    await ok(await province.post(f"/v1/projects/{cross}/open"))
    # A third project whose places go to the city, which splits them to its counties and back.
    split = (await ok(await province.post("/v1/projects", json=project("GP2023-04", host)), 201))["id"]
    await ok(await province.put(f"/v1/projects/{split}/quotas/{CITY}", json={"places": 6}))
    city = as_role("city_admin", CITY)
    for region, places in ((COUNTY, 2), (COUNTY2, 3), (COUNTY, 3)):
        await ok(await city.put(f"/v1/projects/{split}/quotas/{CITY}/splits/{region}", json={"places": places}))

    clock["today"] = date(2023, 7, 1)  # the 30th day after the notice: the province's window's last
    url = f"/v1/projects/{pid}/nominations"
    e1, e2, e3, e4 = [(await ok(await county.post(url, json={"teacher_id": t, "region_code": COUNTY}), 201)
                       )["enrollment_id"] for t in (t1, t2, t3, t4)]
    e5, e6 = [(await ok(await county2.post(url, json={"teacher_id": t, "region_code": COUNTY2}), 201)
               )["enrollment_id"] for t in (t5, t6)]
    await ok(await county.post(f"/v1/enrollments/{e3}/replace", json={"teacher_id": t7}))
    await ok(await county.post(f"/v1/enrollments/{e4}/withdraw", json={"reason": "工作调动"}))
    e8 = (await ok(await county.post(url, json={"teacher_id": t8, "region_code": COUNTY}), 201))["enrollment_id"]
    await ok(await province.put(f"/v1/projects/{pid}/quotas/{COUNTY}", json={"places": 4}))  # down to used
    assert (await county.post(url, json={"teacher_id": t9, "region_code": COUNTY})).status_code == 409
    e9 = (await ok(await county.post(f"/v1/projects/{cross}/nominations",
                                     json={"teacher_id": t9, "region_code": COUNTY}), 201))["enrollment_id"]
    refused = await county.post(f"/v1/projects/{cross}/nominations", json={"teacher_id": t1, "region_code": COUNTY})
    assert refused.json()["code"] == "national_limit"  # t1 holds 2023 (e1)

    clock["today"] = date(2023, 7, 15)
    hostc = as_role("host", host)
    for eid, tid in ((e1, t1), (e2, t2)):
        await ok(await as_role("teacher", sub=tid).post(f"/v1/enrollments/{eid}/check-in"))
    # t7 scans the code the host shows (扫码报到).
    code = (await ok(await hostc.post(f"/v1/projects/{pid}/check-in-codes", json={"session_date": "2023-07-15"}),
                     201))["code"]
    assert (await ok(await as_role("teacher", sub=t7).post("/v1/check-ins", json={"code": code})))["enrollment_id"] \
        == e3
    await ok(await hostc.post(f"/v1/enrollments/{e5}/check-in"))
    await ok(await as_role("teacher", sub=t9).post(f"/v1/enrollments/{e9}/check-in"))  # attended cross-year
    await ok(await province.post(f"/v1/projects/{pid}/start"))
    # Leave (请假, 002 §4.1.3): e1's recorded by the host on the teacher's behalf, e5's asked by the
    # teacher, both approved; e2's refused, then asked again (the row replaced) and left pending.
    await ok(await hostc.post(f"/v1/enrollments/{e1}/leave-requests",
                              json={"session_date": "2023-07-15", "reason": "病假"}), 201)
    await ok(await as_role("teacher", sub=t5).post(f"/v1/enrollments/{e5}/leave-requests",
                                                   json={"session_date": "2023-07-15", "reason": "事假"}), 201)
    for eid in (e1, e5):
        await ok(await hostc.post(f"/v1/enrollments/{eid}/leave-requests/2023-07-15/approve", json={}))
    for reason in ("事假", "事假(补充说明)"):
        await ok(await as_role("teacher", sub=t2).post(f"/v1/enrollments/{e2}/leave-requests",
                                                       json={"session_date": "2023-07-16", "reason": reason}), 201)
        if reason == "事假":
            await ok(await province.post(f"/v1/enrollments/{e2}/leave-requests/2023-07-16/reject",
                                         json={"reason": "培训关键环节"}))
    for status, hours in (("leave", 0), ("present", 8)):  # the second record for the date replaces the first
        await ok(await hostc.post(f"/v1/enrollments/{e1}/attendance",
                                  json={"session_date": "2023-07-15", "status": status, "hours": hours}))
    attendance = (f"报名编号,教师编号,日期,出勤状态,学时\n{e2},,2023-07-15,出勤,8\n,{t7},2023-07-15,出勤,8\n"
                  f"{e5},,2023-07-15,请假,0\n{e5},,2023-07-16,出勤,6.5\n")
    await ok(await hostc.post(f"/v1/projects/{pid}/attendance/import", content=attendance.encode()))
    for eid, kind, passed in ((e1, "process", True), (e1, "final", True), (e2, "process", False),
                              (e3, "final", True), (e5, "final", False), (e5, "final", True)):
        await ok(await hostc.post(f"/v1/enrollments/{eid}/assessment",
                                  json={"kind": kind, "score": 85 if passed else 50, "passed": passed}))
    for issue in (1, 2):
        await ok(await hostc.post(f"/v1/projects/{pid}/bulletins", json={
            "issue_no": issue, "title": f"第{issue}期简报", "published_on": "2023-07-15"}), 201)

    clock["today"] = date(2023, 7, 24)
    await ok(await hostc.post(f"/v1/enrollments/{e2}/fail", json={"reason": "过程考核不合格"}))
    await ok(await hostc.post(f"/v1/enrollments/{e6}/no-show", json={"special_reason": False}))  # barred
    await ok(await province.post(f"/v1/enrollments/{e8}/no-show", json={"special_reason": False}))
    await ok(await county.post(f"/v1/enrollments/{e8}/no-show/special-reason", json={"reason": "病假"}))  # unbarred
    # e6's place filled by a substitute of its county (缺额调整补充选派), after the window.
    t10 = (await ok(await province.post("/v1/teachers", json={
        "name": "教师10", "national_id": make_id("610103", "19880101", "301"), "school_code": SCHOOL2,
        "subject": "数学", "stage": "初中", "title": "一级教师", "hired_on": "2011-09-01"}), 201))["id"]
    await ok(await county2.post(url, json={"teacher_id": t10, "region_code": COUNTY2, "substitute_for": e6}), 201)
    for eid in (e1, e3, e5):
        await ok(await hostc.post(f"/v1/enrollments/{eid}/complete"))
    for eid, tid, score in ((e1, t1, 5), (e2, t2, 2)):
        await ok(await as_role("teacher", sub=tid).post(f"/v1/enrollments/{eid}/evaluation",
                                                        json={"satisfied": score > 3, "score": score}))
    await ok(await province.post(f"/v1/projects/{pid}/close"))
    clock["today"] = date(2023, 8, 10)
    for kind, title in (("case", "优秀工作案例"), ("course_video", "课堂实录")):
        await ok(await hostc.post(f"/v1/projects/{pid}/close-out-materials", json={"kind": kind, "title": title}), 201)


async def service_tables(pool) -> set[str]:
    rows = await pool.fetch("SELECT table_name FROM information_schema.tables"
                            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
    return {r["table_name"] for r in rows} - KERNEL - set(NOT_REBUILT)


async def snapshot(pool, tables: set[str]) -> dict[str, list[str]]:
    return {t: sorted(r[0] for r in await pool.fetch(f"SELECT to_jsonb(x)::text FROM {t} x")) for t in sorted(tables)}


async def test_every_table_rebuilt_from_the_store_equals_the_live_one(enrollment_app, as_role, epool, clock):
    await scenario(as_role, clock)
    replay = InlineReplay("enrollment", spec.inline)
    tables = await service_tables(epool)
    assert tables == set(replay.tables), "every table is a guard or a read model, or says why not"
    live = await snapshot(epool, tables)
    assert all(live.values()), [t for t, rows in live.items() if not rows]  # the scenario reached every table
    # The cross-year place (e9) holds 2023 and 2024, and its check-in was recorded as cross-year.
    assert await epool.fetchval("SELECT count(*) FROM national_slots WHERE year = 2024") == 1
    assert await epool.fetchval("SELECT count(*) FROM national_attended WHERE cross_year") == 1

    read = await rebuild(epool, replay, store_source(epool, enrollment_app.state.store, limit=17))

    assert read == await epool.fetchval("SELECT count(*) FROM events")
    rebuilt = await snapshot(epool, tables)
    for table in sorted(tables):
        assert rebuilt[table] == live[table], table


async def test_the_read_model_states_equal_the_folded_streams(enrollment_app, as_role, epool, clock):
    """The attendance import reads enrollments' states from the read model (enrollment_stream.load_states)
    instead of folding their streams: the same state and version, in every status the scenario reaches."""
    from services.enrollment.domain.enrollment import INITIAL, evolve
    from services.enrollment.handlers.enrollment_stream import load_states
    from shared.aggregate import load_states as fold_states

    if not await epool.fetchval("SELECT count(*) FROM enrollments"):
        await scenario(as_role, clock)
    ids = [str(r[0]) for r in await epool.fetch("SELECT id FROM enrollments")]
    async with epool.acquire() as conn:
        read = await load_states(conn, [*ids, str(uuid.uuid4())])
        folded = await fold_states(conn, enrollment_app.state.store, [f"enrollment-{i}" for i in ids], evolve, INITIAL)
    assert {s.status for s, _ in read.values()} >= {"completed", "failed", "no_show", "withdrawn"}
    assert any(s.attendance for s, _ in read.values()) and any(s.assessments for s, _ in read.values())
    assert any(s.evaluated for s, _ in read.values())
    assert read == {i: folded[f"enrollment-{i}"] for i in ids}
