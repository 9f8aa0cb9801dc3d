"""Leave (请假, 002 §4.1.3 "三严: 严肃请假制度") over HTTP, on the real app (PostgreSQL + NATS),
issue 20: the teacher asks for leave (or the host records it on their behalf), the host or an
admin over the organizer approves or refuses it; a session recorded as leave needs it approved;
approved leave is no attendance for the province's share. Refusals have their own codes, callers
out of scope get 403, and a refused request writes nothing."""

from __future__ import annotations

import uuid

from tests.enrollment import seed
from tests.enrollment.seed import (
    COUNTY2,
    PROVINCE,
    SCHOOL,
    checked_in_enrollment,
    n_events,
    refused,
    seed_teacher,
    teacher,
)

host, county, hostc = seed.host, seed.county, seed.hostc
DAY = "2023-07-16"  # a session of seed_project's 2023-07-15..30


def leave_url(eid: str, act: str | None = None) -> str:
    return f"/v1/enrollments/{eid}/leave-requests" + (f"/{DAY}/{act}" if act else "")


async def attendance(client, eid: str, status: str, day: str = DAY):
    return await client.post(f"/v1/enrollments/{eid}/attendance", json={"session_date": day, "status": status,
                                                                         "hours": 6 if status == "present" else 0})


async def test_the_teacher_asks_the_host_approves_and_the_session_is_leave(epool, as_role, county, hostc, host):
    _, tid, eid = await checked_in_enrollment(epool, as_role, county, host, hours=30)
    me = teacher(as_role, tid)
    # Without an approved leave the session cannot be recorded as leave: its own code, nothing written.
    before = await n_events(epool)
    refused(await attendance(hostc, eid, "leave"), 409, "leave_not_approved")
    assert await n_events(epool) == before
    r = await me.post(leave_url(eid), json={"session_date": DAY, "reason": "孩子生病"})
    assert r.status_code == 201, r.text
    assert r.json()["leave"] == "requested" and r.headers["ETag"] == f'"{r.json()["version"]}"'
    refused(await attendance(hostc, eid, "leave"), 409, "leave_not_approved")  # asked is not approved
    r = await hostc.post(leave_url(eid, "approve"), json={})
    assert (r.status_code, r.json()["leave"]) == (200, "approved"), r.text
    assert (await attendance(hostc, eid, "leave")).status_code == 200
    body = (await me.get(leave_url(eid))).json()
    today = seed.SEED_TODAY.isoformat()
    assert body["items"] == [{"session_date": DAY, "status": "approved", "reason": "孩子生病",
                              "requested_by": "teacher", "requested_on": today, "decided_on": today,
                              "decision_reason": None}]
    types = await epool.fetch("SELECT type FROM events WHERE stream_id = $1 ORDER BY version", f"enrollment-{eid}")
    assert [t["type"] for t in types][-3:] == ["LeaveRequested", "LeaveApproved", "AttendanceRecorded"]


async def test_the_host_records_it_for_the_teacher_and_an_admin_refuses_it(epool, as_role, county, hostc, host):
    _, tid, eid = await checked_in_enrollment(epool, as_role, county, host)
    assert (await hostc.post(leave_url(eid), json={"session_date": DAY, "reason": "事假"})).status_code == 201
    province = as_role("province_admin", PROVINCE)
    before = await n_events(epool)
    refused(await province.post(leave_url(eid, "reject"), json={}), 422, "validation_error")  # a refusal says why
    assert await n_events(epool) == before
    r = await province.post(leave_url(eid, "reject"), json={"reason": "培训关键环节,不予准假"})
    assert (r.status_code, r.json()["leave"]) == (200, "rejected"), r.text
    [item] = (await hostc.get(leave_url(eid))).json()["items"]
    assert (item["status"], item["requested_by"], item["decision_reason"]) == (
        "rejected", "host", "培训关键环节,不予准假")
    refused(await attendance(hostc, eid, "leave"), 409, "leave_not_approved")
    assert (await attendance(hostc, eid, "absent")).status_code == 200  # it is an absence
    # Asked again after the refusal: a new request for the same session.
    assert (await teacher(as_role, tid).post(leave_url(eid), json={"session_date": DAY, "reason": "事假"})
            ).status_code == 201


async def test_refusals_have_their_codes_and_write_nothing(epool, as_role, county, hostc, host):
    _, tid, eid = await checked_in_enrollment(epool, as_role, county, host)
    me = teacher(as_role, tid)
    before = await n_events(epool)
    refused(await hostc.post(leave_url(eid, "approve"), json={}), 404, "leave_not_found")
    refused(await me.post(leave_url(eid), json={"session_date": "2023-08-01", "reason": "x"}), 422,
            "session_out_of_range")
    refused(await me.post(leave_url(eid), json={"session_date": DAY}), 422, "validation_error")
    refused(await me.post(leave_url(eid), json={"session_date": "2023-02-30", "reason": "x"}), 422,
            "validation_error")
    refused(await hostc.post(f"/v1/enrollments/{eid}/leave-requests/not-a-date/approve", json={}), 422,
            "validation_error")
    refused(await me.post(leave_url(str(uuid.uuid4())), json={"session_date": DAY, "reason": "x"}), 404,
            "enrollment_not_found")
    assert await n_events(epool) == before
    assert (await me.post(leave_url(eid), json={"session_date": DAY, "reason": "x"})).status_code == 201
    before = await n_events(epool)
    refused(await me.post(leave_url(eid), json={"session_date": DAY, "reason": "again"}), 409, "leave_exists")
    assert (await hostc.post(leave_url(eid, "approve"), json={"reason": "准假"})).status_code == 200
    refused(await hostc.post(leave_url(eid, "reject"), json={"reason": "晚了"}), 409, "leave_decided")
    refused(await me.post(leave_url(eid), json={"session_date": DAY, "reason": "again"}), 409, "leave_exists")
    assert await n_events(epool) == before + 1  # the approval only


async def test_out_of_scope_is_403_and_writes_nothing(epool, as_role, county, hostc, host):
    _, _, eid = await checked_in_enrollment(epool, as_role, county, host)
    other_teacher = teacher(as_role, await seed_teacher(epool))
    other_host = as_role("host", str(uuid.uuid4()))
    ask = {"session_date": DAY, "reason": "事假"}
    before = await n_events(epool)
    refused(await other_teacher.post(leave_url(eid), json=ask), 403, "out_of_scope")
    refused(await other_host.post(leave_url(eid), json=ask), 403, "out_of_scope")
    refused(await county.post(leave_url(eid), json=ask), 403, "forbidden_role")  # the teacher's or the host's
    assert (await hostc.post(leave_url(eid), json=ask)).status_code == 201
    before = await n_events(epool)
    refused(await other_host.post(leave_url(eid, "approve"), json={}), 403, "out_of_scope")
    refused(await as_role("school_admin", SCHOOL).post(leave_url(eid, "approve"), json={}), 403, "out_of_scope")
    refused(await as_role("county_admin", COUNTY2).post(leave_url(eid, "reject"), json={"reason": "x"}), 403,
            "out_of_scope")
    refused(await teacher(as_role, str(uuid.uuid4())).post(leave_url(eid, "approve"), json={}), 403,
            "forbidden_role")
    assert await n_events(epool) == before
    refused(await other_teacher.get(leave_url(eid)), 403, "out_of_scope")
    refused(await other_host.get(leave_url(eid)), 403, "out_of_scope")
    refused(await as_role("county_admin", COUNTY2).get(leave_url(eid)), 403, "out_of_scope")
    assert (await county.get(leave_url(eid))).status_code == 200  # the nominating county reads it
    assert (await as_role("school_admin", SCHOOL).get(leave_url(eid))).status_code == 200  # the teacher's school


async def test_completion_under_the_provinces_share_is_refused_approved_leave_not_counting(
        epool, as_role, county, hostc, host):
    # Given the province's share of 75 % (its enrollment policy, in force before the project)
    province = as_role("province_admin", PROVINCE)
    r = await province.put(f"/v1/policies/{PROVINCE}", json={"effective_from": "2023-01-01",
                                                              "min_attendance_share": 0.75})
    assert r.status_code in (200, 201), r.text
    _, tid, eid = await checked_in_enrollment(epool, as_role, county, host, hours=30)
    # And two sessions present and one on approved leave (002 §4.1.3): 2 of 3 attended
    for day in ("2023-07-15", "2023-07-17"):
        assert (await attendance(hostc, eid, "present", day)).status_code == 200
    await seed.approved_leave(as_role, host, eid, tid, DAY)
    assert (await attendance(hostc, eid, "leave")).status_code == 200
    # When the host completes the enrollment, Then attendance_short, and nothing is written
    before = await n_events(epool)
    refused(await hostc.post(f"/v1/enrollments/{eid}/complete"), 409, "attendance_short")
    assert await n_events(epool) == before
    # A fourth session attended makes 3 of 4, the share: completed
    assert (await attendance(hostc, eid, "present", "2023-07-18")).status_code == 200
    r = await hostc.post(f"/v1/enrollments/{eid}/complete")
    assert (r.status_code, r.json()["status"]) == (200, "completed"), r.text
