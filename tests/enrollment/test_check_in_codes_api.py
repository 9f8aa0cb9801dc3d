"""Check-in by code (扫码报到, issue 15) on the real app: the host shows a session's signed,
short-lived code; the teacher's app posts it and is checked in to their own place. Expired,
altered, foreign and replayed codes are refused with their own codes, and nothing is written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.enrollment import checkin_codes
from tests.enrollment import seed
from tests.enrollment.seed import PROVINCE, enrolled, n_events, refused, seed_project, seed_teacher, teacher

host, county, hostc = seed.host, seed.county, seed.hostc
SESSION = {"session_date": "2023-07-16"}  # seed_project runs 2023-07-15..30


@pytest.fixture
def clock(enrollment_app):
    now = {"at": datetime(2026, 3, 2, 8, 0, tzinfo=UTC)}

    async def fixed() -> datetime:
        return now["at"]

    enrollment_app.dependency_overrides[checkin_codes.utc_now] = fixed
    yield now
    enrollment_app.dependency_overrides.pop(checkin_codes.utc_now, None)


async def code_for(client, pid: str, **body) -> str:
    r = await client.post(f"/v1/projects/{pid}/check-in-codes", json=body or SESSION)
    assert r.status_code == 201, r.text
    return r.json()["code"]


async def test_the_host_shows_a_code_and_the_teacher_checks_in_with_it_once(epool, as_role, county, hostc, host,
                                                                             clock):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    r = await hostc.post(f"/v1/projects/{pid}/check-in-codes", json=SESSION)
    assert r.status_code == 201, r.text
    assert r.json()["expires_at"] == (clock["at"] + checkin_codes.CODE_TTL).isoformat()
    code = r.json()["code"]
    me = teacher(as_role, tid)
    r = await me.post("/v1/check-ins", json={"code": code})
    assert (r.status_code, r.json()["status"], r.json()["enrollment_id"]) == (200, "checked_in", eid), r.text
    data = await epool.fetchval("SELECT data FROM events WHERE stream_id = $1 AND type = 'TeacherCheckedIn'",
                                f"enrollment-{eid}")
    assert (data["via"], data["session_date"]) == ("code", "2023-07-16") and data["code_nonce"]
    before = await n_events(epool)
    refused(await me.post("/v1/check-ins", json={"code": code}), 409, "code_replayed")
    # The next session's code: already checked in, a harmless 200 and no second event.
    later = await code_for(hostc, pid, session_date="2023-07-17")
    assert (await me.post("/v1/check-ins", json={"code": later})).status_code == 200
    assert await n_events(epool) == before


async def test_expired_altered_and_foreign_codes_are_refused_and_write_nothing(epool, as_role, county, hostc, host,
                                                                               clock):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    await enrolled(county, pid, tid)
    code = await code_for(hostc, pid)
    me = teacher(as_role, tid)
    stranger = teacher(as_role, await seed_teacher(epool))  # no place in this project
    other_pid = await seed_project(epool, host)
    other_code = await code_for(hostc, other_pid)
    before = await n_events(epool)
    refused(await stranger.post("/v1/check-ins", json={"code": code}), 403, "code_foreign")
    refused(await me.post("/v1/check-ins", json={"code": other_code}), 403, "code_foreign")
    head, payload, sig = code.split(".")
    altered = f"{head}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{sig}"
    refused(await me.post("/v1/check-ins", json={"code": altered}), 422, "code_invalid")
    refused(await me.post("/v1/check-ins", json={"code": "x" * 40}), 422, "code_invalid")
    refused(await me.post("/v1/check-ins", json={"code": "short"}), 422, "validation_error")
    refused(await me.post("/v1/check-ins", json={}), 422, "validation_error")
    clock["at"] += checkin_codes.CODE_TTL + timedelta(seconds=1)
    refused(await me.post("/v1/check-ins", json={"code": code}), 422, "code_expired")
    refused(await hostc.post("/v1/check-ins", json={"code": code}), 403, "forbidden_role")
    assert await n_events(epool) == before


@pytest.mark.parametrize(("who", "status", "problem"), [
    (("teacher", None), 403, "forbidden_role"),
    (("host", "other-host"), 403, "out_of_scope"),
    (("county_admin", "610102"), 403, "out_of_scope"),  # the organizer is the province
])
async def test_only_the_host_or_an_admin_over_the_organizer_shows_codes(epool, as_role, host, who, status, problem):
    pid = await seed_project(epool, host)
    role, org = who
    org = str(uuid.uuid4()) if org == "other-host" else org
    refused(await as_role(role, org).post(f"/v1/projects/{pid}/check-in-codes", json=SESSION), status, problem)
    assert (await as_role("province_admin", PROVINCE).post(f"/v1/projects/{pid}/check-in-codes",
                                                          json=SESSION)).status_code == 201


async def test_a_code_is_for_a_day_of_an_open_or_started_project(epool, hostc, host):
    pid = await seed_project(epool, host)
    refused(await hostc.post(f"/v1/projects/{pid}/check-in-codes", json={"session_date": "2023-08-01"}), 422,
            "session_out_of_range")
    refused(await hostc.post(f"/v1/projects/{pid}/check-in-codes", json={"session_date": "16/07/2023"}), 422,
            "validation_error")
    approved = await seed_project(epool, host, status="approved")
    refused(await hostc.post(f"/v1/projects/{approved}/check-in-codes", json=SESSION), 409, "project_not_open")
    refused(await hostc.post(f"/v1/projects/{uuid.uuid4()}/check-in-codes", json=SESSION), 404,
            "project_not_found")


async def test_the_host_reads_its_learners_names_for_the_sign_in_sheet(epool, as_role, county, hostc, host):
    # Issue 20: the host runs the sessions; it gets names and masked ID numbers, never the number.
    pid = await seed_project(epool, host)
    r = await as_role("province_admin", PROVINCE).post("/v1/teachers", json={
        "name": "王小明", "national_id": "11010519491231002X", "school_code": seed.SCHOOL, "subject": "数学",
        "stage": "初中", "title": "一级教师", "hired_on": "2015-09-01"})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    eid = await enrolled(county, pid, tid)
    sheet = await hostc.get(f"/v1/projects/{pid}/sign-in-sheet")
    assert sheet.status_code == 200, sheet.text
    (row,) = sheet.json()["items"]
    assert (row["enrollment_id"], row["name"], row["school_code"], row["status"]) == (eid, "王小明", seed.SCHOOL,
                                                                                       "nominated")
    assert "11010519491231002X" not in sheet.text and row["national_id_masked"].endswith("002X")
    refused(await as_role("host", str(uuid.uuid4())).get(f"/v1/projects/{pid}/sign-in-sheet"), 403, "out_of_scope")
    refused(await county.get(f"/v1/projects/{pid}/sign-in-sheet"), 403, "out_of_scope")  # organizer: the province
    refused(await teacher(as_role, tid).get(f"/v1/projects/{pid}/sign-in-sheet"), 403, "forbidden_role")
    refused(await hostc.get(f"/v1/projects/{uuid.uuid4()}/sign-in-sheet"), 404, "project_not_found")
