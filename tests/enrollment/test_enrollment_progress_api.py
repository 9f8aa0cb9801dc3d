"""An enrollment's progress on the real app (PostgreSQL + NATS): check-in (报到), attendance, assessment,
completion (结业), failure (不予结业), no-show and evaluation — every success, refusal code, bad input,
wrong role and scope, and that a refused or invalid command writes nothing.
"""

from __future__ import annotations

import uuid

import pytest

from tests.enrollment import seed
from tests.enrollment.seed import (
    COUNTY,
    COUNTY2,
    PROVINCE,
    advance,
    approved_leave,
    checked_in_enrollment,
    enrolled,
    n_events,
    refused,
    seed_project,
    seed_teacher,
    teacher,
)

host, county, hostc = seed.host, seed.county, seed.hostc  # this module's own instances


# Check-in (报到) ------------------------------------------------------------------------------

async def test_teacher_checks_in_once_and_a_retry_is_harmless(epool, as_role, county, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    me = teacher(as_role, tid)
    first = await me.post(f"/v1/enrollments/{eid}/check-in", headers={"Idempotency-Key": "checkin-1"})
    assert first.status_code == 200 and first.json()["status"] == "checked_in" and first.headers["ETag"] == '"2"'
    replay = await me.post(f"/v1/enrollments/{eid}/check-in", headers={"Idempotency-Key": "checkin-1"})
    again = await me.post(f"/v1/enrollments/{eid}/check-in")
    assert replay.json() == again.json() == first.json() and again.status_code == 200
    types = await epool.fetch("SELECT type FROM events WHERE stream_id = $1", f"enrollment-{eid}")
    assert [r["type"] for r in types] == ["TeacherNominated", "TeacherCheckedIn"]
    data = await epool.fetchval("SELECT data FROM events WHERE stream_id = $1 AND version = 2", f"enrollment-{eid}")
    assert data["host_id"] == host and data["region_code"] == COUNTY and data["teacher_id"] == tid


async def test_host_and_region_admin_may_check_in_others_may_not(epool, as_role, county, hostc, host):
    pid = await seed_project(epool, host)
    a, b = [await enrolled(county, pid, await seed_teacher(epool)) for _ in range(2)]
    before = await n_events(epool)
    for client in (teacher(as_role, str(uuid.uuid4())), as_role("host", str(uuid.uuid4())),
                   as_role("county_admin", COUNTY2)):
        refused(await client.post(f"/v1/enrollments/{a}/check-in"), 403, "out_of_scope")
    refused(await as_role("auditor", PROVINCE).post(f"/v1/enrollments/{a}/check-in"), 403, "forbidden_role")
    assert await n_events(epool) == before
    assert (await hostc.post(f"/v1/enrollments/{a}/check-in")).status_code == 200
    assert (await county.post(f"/v1/enrollments/{b}/check-in")).status_code == 200


async def test_check_in_needs_an_open_or_started_project(epool, as_role, county, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    await advance(epool, pid, "started")
    await advance(epool, pid, "closed")
    refused(await teacher(as_role, tid).post(f"/v1/enrollments/{eid}/check-in"), 409, "project_not_open")
    refused(await county.post(f"/v1/enrollments/{uuid.uuid4()}/check-in"), 404, "enrollment_not_found")


# Attendance ---------------------------------------------------------------------------------

async def test_attendance_is_recorded_and_a_second_record_for_the_date_replaces_it(epool, as_role, county, hostc,
                                                                                    host):
    _, tid, eid = await checked_in_enrollment(epool, as_role, county, host)
    url = f"/v1/enrollments/{eid}/attendance"
    await approved_leave(as_role, host, eid, tid, "2023-07-16")
    assert (await hostc.post(url, json={"session_date": "2023-07-16", "status": "leave", "hours": 0})).status_code \
        == 200
    assert (await hostc.post(url, json={"session_date": "2023-07-16", "status": "present", "hours": 6})
            ).status_code == 200
    rows = await epool.fetch("SELECT status, hours FROM attendance WHERE enrollment_id = $1", uuid.UUID(eid))
    assert [(r["status"], float(r["hours"])) for r in rows] == [("present", 6.0)]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"session_date": "2023-08-01", "status": "present", "hours": 6}, 422, "session_out_of_range"),
    ({"session_date": "2023-07-16", "status": "late", "hours": 6}, 422, "validation_error"),
    ({"session_date": "2023-07-16", "status": "present", "hours": 25}, 422, "validation_error"),
    ({"session_date": "16/07/2023", "status": "present", "hours": 6}, 422, "validation_error"),
    ({"status": "present", "hours": 6}, 422, "validation_error"),
])
async def test_bad_attendance_writes_nothing(epool, as_role, county, hostc, host, body, status, code):
    _, _, eid = await checked_in_enrollment(epool, as_role, county, host)
    before = await n_events(epool)
    refused(await hostc.post(f"/v1/enrollments/{eid}/attendance", json=body), status, code)
    assert await n_events(epool) == before


async def test_attendance_needs_check_in_and_the_projects_host_or_organizer(epool, as_role, county, hostc, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    body = {"session_date": "2023-07-16", "status": "present", "hours": 6}
    url = f"/v1/enrollments/{eid}/attendance"
    refused(await hostc.post(url, json=body), 409, "not_checked_in")
    await teacher(as_role, tid).post(f"/v1/enrollments/{eid}/check-in")
    refused(await as_role("host", str(uuid.uuid4())).post(url, json=body), 403, "out_of_scope")
    refused(await county.post(url, json=body), 403, "out_of_scope")  # organizer is the province
    refused(await teacher(as_role, tid).post(url, json=body), 403, "forbidden_role")
    assert (await as_role("province_admin", PROVINCE).post(url, json=body)).status_code == 200


# Assessment, completion (结业), failure (不予结业), no-show ------------------------------------

async def test_assessment_and_completion_carry_the_projects_hours(epool, as_role, county, hostc, host):
    pid, tid, eid = await checked_in_enrollment(epool, as_role, county, host)
    for kind in ("process", "final"):
        r = await hostc.post(f"/v1/enrollments/{eid}/assessment", json={"kind": kind, "score": 85, "passed": True})
        assert r.status_code == 200
    r = await hostc.post(f"/v1/enrollments/{eid}/complete")
    assert r.status_code == 200 and r.json()["status"] == "completed"
    data = await epool.fetchval("SELECT data FROM events WHERE stream_id = $1 AND type = 'EnrollmentCompleted'",
                                f"enrollment-{eid}")
    assert {k: data[k] for k in ("project_id", "teacher_id", "region_code", "host_id", "level", "year", "hours",
                                 "hour_category")} == {
        "project_id": pid, "teacher_id": tid, "region_code": COUNTY, "host_id": host, "level": "national",
        "year": 2023, "hours": 90, "hour_category": "centralized"}
    before = await n_events(epool)
    refused(await hostc.post(f"/v1/enrollments/{eid}/complete"), 409, "invalid_transition")
    refused(await hostc.post(f"/v1/enrollments/{eid}/fail", json={"reason": "x"}), 409, "invalid_transition")
    refused(await hostc.post(f"/v1/enrollments/{eid}/attendance",
                             json={"session_date": "2023-07-16", "status": "present", "hours": 6}),
            409, "invalid_transition")
    assert await n_events(epool) == before


async def test_completion_refusals(epool, as_role, county, hostc, host):
    _, tid, eid = await checked_in_enrollment(epool, as_role, county, host)
    url = f"/v1/enrollments/{eid}/complete"
    before = await n_events(epool)
    refused(await hostc.post(url), 409, "final_assessment_required")  # 90 hours (002 §4.1.3)
    refused(await teacher(as_role, tid).post(url), 403, "forbidden_role")
    refused(await as_role("host", str(uuid.uuid4())).post(url), 403, "out_of_scope")
    assert await n_events(epool) == before
    await hostc.post(f"/v1/enrollments/{eid}/assessment", json={"kind": "process", "score": 40, "passed": False})
    await hostc.post(f"/v1/enrollments/{eid}/assessment", json={"kind": "final", "score": 90, "passed": True})
    refused(await hostc.post(url), 409, "assessment_failed")
    _, _, not_started = await checked_in_enrollment(epool, as_role, county, host, status="open", hours=30)
    refused(await hostc.post(f"/v1/enrollments/{not_started}/complete"), 409, "project_not_started")
    pid = await seed_project(epool, host, level="provincial", hours=30)
    nominated = await enrolled(county, pid, await seed_teacher(epool))
    await advance(epool, pid, "started")
    refused(await hostc.post(f"/v1/enrollments/{nominated}/complete"), 409, "not_checked_in")


@pytest.mark.parametrize(("body", "code"), [({"kind": "oral", "passed": True}, "validation_error"),
                                            ({"kind": "final", "score": 101, "passed": True}, "validation_error"),
                                            ({"kind": "final", "passed": "yes"}, "validation_error")])
async def test_bad_assessments_write_nothing(epool, as_role, county, hostc, host, body, code):
    _, _, eid = await checked_in_enrollment(epool, as_role, county, host)
    before = await n_events(epool)
    refused(await hostc.post(f"/v1/enrollments/{eid}/assessment", json=body), 422, code)
    assert await n_events(epool) == before


async def test_fail_and_its_refusals(epool, as_role, county, hostc, host):
    _, _, eid = await checked_in_enrollment(epool, as_role, county, host)
    refused(await hostc.post(f"/v1/enrollments/{eid}/fail", json={}), 422, "validation_error")
    r = await as_role("province_admin", PROVINCE).post(f"/v1/enrollments/{eid}/fail", json={"reason": "考核不合格"})
    assert r.status_code == 200 and r.json()["status"] == "failed"
    pid = await seed_project(epool, host)
    nominated = await enrolled(county, pid, await seed_teacher(epool))
    refused(await hostc.post(f"/v1/enrollments/{nominated}/fail", json={"reason": "x"}), 409, "not_checked_in")
    refused(await hostc.post(f"/v1/enrollments/{nominated}/no-show", json={"special_reason": False}), 409,
            "project_not_started")


async def test_no_show_refusals(epool, as_role, county, hostc, host):
    _, _, eid = await checked_in_enrollment(epool, as_role, county, host)
    url = f"/v1/enrollments/{eid}/no-show"
    refused(await hostc.post(url, json={"special_reason": False}), 409, "already_checked_in")
    refused(await hostc.post(url, json={"special_reason": "no"}), 422, "validation_error")
    refused(await hostc.post(url, json={}), 422, "validation_error")
    # The nominating county may record it (004 四.1); another county may not.
    refused(await county.post(url, json={"special_reason": False}), 409, "already_checked_in")
    refused(await as_role("county_admin", COUNTY2).post(url, json={"special_reason": False}), 403, "out_of_scope")


# Evaluation ----------------------------------------------------------------------------------

async def test_the_teacher_evaluates_once(epool, as_role, county, host):
    _, tid, eid = await checked_in_enrollment(epool, as_role, county, host)
    me, url = teacher(as_role, tid), f"/v1/enrollments/{eid}/evaluation"
    before = await n_events(epool)
    refused(await me.post(url, json={"satisfied": True, "score": 6}), 422, "validation_error")
    refused(await me.post(url, json={"satisfied": "yes", "score": 5}), 422, "validation_error")
    refused(await teacher(as_role, str(uuid.uuid4())).post(url, json={"satisfied": True, "score": 5}), 403,
            "out_of_scope")
    refused(await county.post(url, json={"satisfied": True, "score": 5}), 403, "forbidden_role")
    assert await n_events(epool) == before
    assert (await me.post(url, json={"satisfied": True, "score": 5, "comment": "收获很大"})).status_code == 200
    refused(await me.post(url, json={"satisfied": False, "score": 1}), 409, "already_evaluated")
    assert await epool.fetchval("SELECT score FROM evaluations WHERE enrollment_id = $1", uuid.UUID(eid)) == 5


async def test_evaluation_needs_check_in(epool, as_role, county, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    refused(await teacher(as_role, tid).post(f"/v1/enrollments/{eid}/evaluation", json={"satisfied": True,
                                                                                          "score": 4}),
            409, "not_checked_in")
