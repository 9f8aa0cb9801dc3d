"""A whole 国培 project from draft to close through the real endpoints, and the exact sequence of
enrollment events the app's relay publishes on NATS JetStream.

The calendar is pinned by overriding the Asia/Shanghai "today" dependency, so the project can
run in July 2023 like the Shaanxi notice (004) whatever the machine's date."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from shared.bus import BusNames
from shared.clock import shanghai_today
from shared.consumer import stream_source
from tests.conftest import eventually

PROVINCE, CITY, COUNTY, COUNTY2 = "610000", "610100", "610102", "610103"
SCHOOL, SCHOOL2 = "610102001", "610103001"
CAT = "农村骨干教师分层分类培训"
WEIGHTS, CHECK = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), "10X98765432"


def national_id(seq: int) -> str:
    body = f"610102198503{seq:02d}{100 + seq:03d}"  # born March 1985, GB 11643 check digit below
    return body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


@pytest.fixture(scope="module")
def clock(enrollment_app):
    now = {"today": date(2023, 6, 20)}
    enrollment_app.dependency_overrides[shanghai_today] = lambda: now["today"]
    yield now
    enrollment_app.dependency_overrides.pop(shanghai_today, None)


async def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def published(app, ns: str) -> list:
    out = []
    async for batch in stream_source(app.state.bus, BusNames(ns), "enrollment"):
        out += batch
    return out


async def test_a_national_project_from_draft_to_close(enrollment_app, module_namespace, as_role, epool, clock):
    province, county, county2 = (as_role("province_admin", PROVINCE), as_role("county_admin", COUNTY),
                                 as_role("county_admin", COUNTY2))
    for code, name, kind, parent in [(PROVINCE, "陕西省", "province", None), (CITY, "西安市", "city", PROVINCE),
                                     (COUNTY, "新城区", "county", CITY), (COUNTY2, "碑林区", "county", CITY),
                                     (SCHOOL, "新城区第一中学", "school", COUNTY),
                                     (SCHOOL2, "碑林区第一中学", "school", COUNTY2)]:
        await ok(await province.put(f"/v1/orgs/{code}", json={"name": name, "kind": kind, "parent_code": parent}), 201)
    host = str(uuid.uuid4())
    await ok(await province.put(f"/v1/hosts/{host}", json={"name": "陕西师范大学", "province_code": PROVINCE}), 201)
    teachers = []
    for i, school in enumerate([SCHOOL] * 4 + [SCHOOL2] * 2, start=1):
        doc = await ok(await province.post("/v1/teachers", json={
            "name": f"教师{i}", "national_id": national_id(i), "school_code": school, "subject": "数学",
            "stage": "初中", "title": "一级教师", "hired_on": "2010-09-01"}), 201)
        teachers.append(doc["id"])
    t1, t2, t3, t6, t4, t5 = teachers  # t1–t3, t6 in 新城区; t4, t5 in 碑林区

    # The project: drafted, plan submitted ≥ 10 days before start, approved, quotas, opened.
    pid = (await ok(await province.post("/v1/projects", json={
        "code": "GP2023-SX-01", "name": "国培计划 农村骨干教师分层分类培训", "level": "national", "category": CAT,
        "year": 2023, "host_id": host, "organizer_code": PROVINCE, "hours": 90, "hour_category": "centralized",
        "starts_on": "2023-07-15", "ends_on": "2023-07-24", "cross_year": False, "practical_ratio": 0.5,
        "modules": [{"name": "师德第一课", "hours": 10, "kind": "ethics"},
                    {"name": "课堂实践", "hours": 45, "practical": True}]}), 201))["id"]
    for action in ("submit-plan", "approve"):
        await ok(await province.post(f"/v1/projects/{pid}/{action}"))
    await ok(await province.put(f"/v1/projects/{pid}/quotas/{COUNTY}", json={"places": 3}))
    await ok(await province.put(f"/v1/projects/{pid}/quotas/{COUNTY2}", json={"places": 2}))
    await ok(await province.post(f"/v1/projects/{pid}/open"))

    # Selection (004 §3.1): nominations within quota, one replacement (换人) before check-in.
    clock["today"] = date(2023, 7, 1)
    nominate = f"/v1/projects/{pid}/nominations"
    e1, e2, e3 = [(await ok(await county.post(nominate, json={"teacher_id": t, "region_code": COUNTY}), 201)
                   )["enrollment_id"] for t in (t1, t2, t3)]
    e4, e5 = [(await ok(await county2.post(nominate, json={"teacher_id": t, "region_code": COUNTY2}), 201)
               )["enrollment_id"] for t in (t4, t5)]
    assert (await county.post(nominate, json={"teacher_id": t6, "region_code": COUNTY})).json()["code"] == \
        "quota_exhausted"
    await ok(await county.post(f"/v1/enrollments/{e3}/replace", json={"teacher_id": t6}))

    # Check-in (报到): teachers from the app, one by the host; then the project starts.
    clock["today"] = date(2023, 7, 15)
    for eid, tid in ((e1, t1), (e2, t2), (e3, t6)):
        await ok(await as_role("teacher", sub=tid).post(f"/v1/enrollments/{eid}/check-in"))
    hostc = as_role("host", host)
    await ok(await hostc.post(f"/v1/enrollments/{e4}/check-in"))
    await ok(await province.post(f"/v1/projects/{pid}/start"))

    # Attendance, one by one and by CSV; assessments; a failure, a no-show, completions.
    for eid in (e1, e2):
        await ok(await hostc.post(f"/v1/enrollments/{eid}/attendance",
                                  json={"session_date": "2023-07-15", "status": "present", "hours": 8}))
    sheet = f"报名编号,日期,出勤状态,学时\n{e3},2023-07-15,出勤,8\n{e4},2023-07-15,请假,0\n"
    # Leave needs approval (002 §4.1.3 严肃请假制度): e4's 请假 is refused until the teacher asks
    # for it and the host approves it.
    unapproved = await hostc.post(f"/v1/projects/{pid}/attendance/import", content=sheet.encode())
    assert unapproved.status_code == 422 and [e["code"] for e in unapproved.json()["errors"]] == ["leave_not_approved"]
    await ok(await as_role("teacher", sub=t4).post(f"/v1/enrollments/{e4}/leave-requests",
                                                   json={"session_date": "2023-07-15", "reason": "病假"}), 201)
    await ok(await hostc.post(f"/v1/enrollments/{e4}/leave-requests/2023-07-15/approve", json={"reason": "准假"}))
    await ok(await hostc.post(f"/v1/projects/{pid}/attendance/import", content=sheet.encode()))
    assess = [(e1, "process", True), (e1, "final", True), (e2, "process", False), (e3, "final", True),
              (e4, "final", True)]
    for eid, kind, passed in assess:
        await ok(await hostc.post(f"/v1/enrollments/{eid}/assessment",
                                  json={"kind": kind, "score": 85 if passed else 50, "passed": passed}))
    clock["today"] = date(2023, 7, 24)
    await ok(await hostc.post(f"/v1/enrollments/{e2}/fail", json={"reason": "过程考核不合格"}))
    await ok(await hostc.post(f"/v1/enrollments/{e5}/no-show", json={"special_reason": False}))
    # e4's one recorded session was leave, approved: approved leave is no attendance
    # (enrollment.sessions_attended), so under the default attendance share (80 %, 002 §4.1.3 三严)
    # it does not graduate — refused with its own code — and the host records the failure.
    refused = await hostc.post(f"/v1/enrollments/{e4}/complete")
    assert (refused.status_code, refused.json()["code"]) == (409, "attendance_short")
    await ok(await hostc.post(f"/v1/enrollments/{e4}/fail", json={"reason": "出勤不足"}))
    for eid in (e1, e3):
        await ok(await hostc.post(f"/v1/enrollments/{eid}/complete"))
    await ok(await as_role("teacher", sub=t1).post(f"/v1/enrollments/{e1}/evaluation",
                                                   json={"satisfied": True, "score": 5, "comment": "收获很大"}))
    await ok(await province.post(f"/v1/projects/{pid}/close"))

    done = {"hours": 90, "level": "national", "year": 2023, "host_id": host, "hour_category": "centralized",
            "completed_on": "2023-07-24"}
    expected = [
        ("TeacherNominated", e1, {"teacher_id": t1, "region_code": COUNTY, "level": "national", "year": 2023}),
        ("TeacherNominated", e2, {"teacher_id": t2}), ("TeacherNominated", e3, {"teacher_id": t3}),
        ("TeacherNominated", e4, {"teacher_id": t4, "region_code": COUNTY2}), ("TeacherNominated", e5, {}),
        ("NomineeReplaced", e3, {"old_teacher_id": t3, "teacher_id": t6}),
        ("TeacherCheckedIn", e1, {"checked_in_on": "2023-07-15", "host_id": host}), ("TeacherCheckedIn", e2, {}),
        ("TeacherCheckedIn", e3, {"teacher_id": t6}), ("TeacherCheckedIn", e4, {}),
        ("AttendanceRecorded", e1, {"hours": 8}), ("AttendanceRecorded", e2, {}),
        ("LeaveRequested", e4, {"session_date": "2023-07-15", "requested_by": "teacher"}),
        ("LeaveApproved", e4, {"session_date": "2023-07-15"}),
        ("AttendanceRecorded", e3, {"status": "present"}), ("AttendanceRecorded", e4, {"status": "leave"}),
        *[("AssessmentRecorded", eid, {"kind": kind, "passed": passed}) for eid, kind, passed in assess],
        ("EnrollmentFailed", e2, {"reason": "过程考核不合格"}),
        ("NoShowRecorded", e5, {"special_reason": False, "barred_until_year": 2026}),
        ("EnrollmentFailed", e4, {"reason": "出勤不足", "region_code": COUNTY2}),
        ("EnrollmentCompleted", e1, {**done, "teacher_id": t1}),
        ("EnrollmentCompleted", e3, {**done, "teacher_id": t6}),
        ("EvaluationSubmitted", e1, {"satisfied": True, "score": 5, "host_id": host}),
    ]
    events: list = []

    async def all_published() -> bool:
        nonlocal events
        events = await published(enrollment_app, module_namespace)
        return sum(e.category == "enrollment" for e in events) >= len(expected) and any(
            e.type == "ProjectClosed" for e in events)

    await eventually(all_published, message="the scenario's events on NATS")
    ours = [e for e in events if e.category == "enrollment"]
    assert [(e.type, e.subject) for e in ours] == [(t, f"enrollment-{eid}") for t, eid, _ in expected]
    for env, (_, eid, fields) in zip(ours, expected, strict=True):
        assert env.data["enrollment_id"] == eid and env.data["project_id"] == pid
        assert {k: env.data[k] for k in fields} == fields, env.type
    project_types = [e.type for e in events if e.subject == f"project-{pid}"]
    assert project_types == ["ProjectDrafted", "ProjectPlanSubmitted", "ProjectApproved", "QuotaAllocated",
                             "QuotaAllocated", "ProjectOpened", "ProjectStarted", "ProjectClosed"]
    blob = b"".join(e.to_json() for e in events).decode()
    assert not any(national_id(i) in blob or f"教师{i}" in blob for i in range(1, 7))  # no personal data on the bus
    quotas = await epool.fetch("SELECT region_code, used FROM project_quotas WHERE project_id = $1", uuid.UUID(pid))
    assert {r["region_code"]: r["used"] for r in quotas} == {COUNTY: 3, COUNTY2: 2}
