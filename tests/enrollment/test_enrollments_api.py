"""Enrollment endpoints on the real app (PostgreSQL + NATS): every success, every refusal code,
bad input, wrong roles and scopes — and that a refused or invalid command writes nothing.

The seeding helpers (seed_tree, seed_teacher, seed_project, advance) are imported by the
concurrency and scenario modules too."""

from __future__ import annotations

import uuid

import pytest

from tests.enrollment.given import given

PROVINCE, CITY, COUNTY, COUNTY2 = "610000", "610100", "610102", "610103"
SCHOOL, SCHOOL2 = "610102001", "610103001"
CAT = "农村骨干教师分层分类培训"
ORGS = [(PROVINCE, "陕西省", "province", None), (CITY, "西安市", "city", PROVINCE),
        (COUNTY, "新城区", "county", CITY), (COUNTY2, "碑林区", "county", CITY),
        (SCHOOL, "新城区第一中学", "school", COUNTY), (SCHOOL2, "碑林区第一中学", "school", COUNTY2)]


async def seed_tree(epool) -> str:
    """The org tree (once per database) and a fresh host; returns the host id."""
    for code, name, kind, parent in ORGS:
        if not await epool.fetchval("SELECT true FROM orgs WHERE code = $1", code):
            await given(epool, f"org-{code}", ("OrgRegistered", {"code": code, "name": name, "kind": kind,
                                                                 "parent_code": parent}))
    host_id = str(uuid.uuid4())
    await given(epool, f"host-{host_id}", ("HostRegistered", {"host_id": host_id, "name": "陕西师范大学",
                                                              "province_code": PROVINCE}))
    return host_id


async def seed_teacher(epool, school: str = SCHOOL) -> str:
    tid = str(uuid.uuid4())
    await given(epool, f"teacher-{tid}", ("TeacherRegistered", {"teacher_id": tid, "school_code": school,
                                                                "subject": "数学", "stage": "初中", "title": "一级教师",
                                                                "hired_on": "2015-09-01"}))
    return tid


_STEPS = {"open": ["ProjectPlanSubmitted", "ProjectApproved", "ProjectOpened"],
          "approved": ["ProjectPlanSubmitted", "ProjectApproved"]}


async def seed_project(epool, host_id: str, *, level: str = "national", status: str = "open", quotas=None,
                       hours: float = 90, year: int = 2023, category: str = CAT, cross_year: bool = False) -> str:
    pid = str(uuid.uuid4())
    drafted = {"project_id": pid, "code": f"GP-{pid[:8]}", "name": "国培计划 农村骨干教师培训", "level": level,
               "category": category, "year": year, "host_id": host_id, "organizer_code": PROVINCE,
               "hours": hours, "hour_category": "centralized", "starts_on": f"{year}-07-15",
               "ends_on": f"{year}-07-30", "cross_year": cross_year, "practical_ratio": 0.5,
               "modules": [{"name": "师德师风", "hours": 10}]}
    steps = _STEPS["approved" if status == "approved" else "open"]
    events = [("ProjectDrafted", drafted)] + [(t, {"project_id": pid, "on": f"{year}-07-01"}) for t in steps]
    events += [("QuotaAllocated", {"project_id": pid, "region_code": r, "places": n})
               for r, n in (quotas or {COUNTY: 5}).items()]
    await given(epool, f"project-{pid}", *events)
    if status in ("started", "closed"):
        await advance(epool, pid, "started")
    if status == "closed":
        await advance(epool, pid, "closed")
    return pid


async def advance(epool, pid: str, status: str) -> None:
    type_ = {"started": "ProjectStarted", "closed": "ProjectClosed"}[status]
    version = await epool.fetchval("SELECT max(version) FROM events WHERE stream_id = $1", f"project-{pid}")
    await given(epool, f"project-{pid}", (type_, {"project_id": pid, "on": "2023-07-15"}), expected_version=version)


@pytest.fixture(scope="module")
async def host(epool) -> str:
    return await seed_tree(epool)


@pytest.fixture(scope="module")
def county(as_role):
    return as_role("county_admin", COUNTY)


@pytest.fixture(scope="module")
def hostc(as_role, host):
    return as_role("host", host)


def teacher(as_role, tid: str):
    return as_role("teacher", sub=tid)


async def n_events(epool) -> int:
    return await epool.fetchval("SELECT count(*) FROM events")


async def used(epool, pid: str, region: str = COUNTY) -> int:
    return await epool.fetchval("SELECT used FROM project_quotas WHERE project_id = $1 AND region_code = $2",
                                uuid.UUID(pid), region)


async def nominate(client, pid: str, tid: str, region: str = COUNTY, **kw):
    return await client.post(f"/v1/projects/{pid}/nominations", json={"teacher_id": tid, "region_code": region}, **kw)


async def enrolled(client, pid: str, tid: str, region: str = COUNTY) -> str:
    r = await nominate(client, pid, tid, region)
    assert r.status_code == 201, r.text
    return r.json()["enrollment_id"]


def refused(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code


async def checked_in_enrollment(epool, as_role, county, host, *, level="national", status="started",
                                hours: float = 90) -> tuple[str, str, str]:
    pid = await seed_project(epool, host, level=level, hours=hours)
    tid = await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    if status != "open":
        await advance(epool, pid, "started")
    assert (await teacher(as_role, tid).post(f"/v1/enrollments/{eid}/check-in")).status_code == 200
    return pid, tid, eid


# Nomination ---------------------------------------------------------------------------------

async def test_nominate_records_the_event_the_row_the_quota_and_the_national_slot(epool, county, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    r = await nominate(county, pid, tid)
    assert r.status_code == 201 and r.headers["ETag"] == '"1"'
    eid = r.json()["enrollment_id"]
    assert r.headers["Location"] == f"/v1/enrollments/{eid}"
    data = await epool.fetchval("SELECT data FROM events WHERE stream_id = $1", f"enrollment-{eid}")
    assert data == {"enrollment_id": eid, "project_id": pid, "teacher_id": tid, "region_code": COUNTY,
                    "level": "national", "category": CAT, "year": 2023, "nominated_on": data["nominated_on"]}
    assert await epool.fetchval("SELECT status FROM enrollments WHERE id = $1", uuid.UUID(eid)) == "nominated"
    assert await used(epool, pid) == 1
    assert await epool.fetchval("SELECT year FROM national_slots WHERE enrollment_id = $1", uuid.UUID(eid)) == 2023


async def test_a_city_admin_nominates_for_a_county_in_its_city(epool, as_role, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    assert (await nominate(as_role("city_admin", CITY), pid, tid)).status_code == 201


async def test_nomination_refusals_write_nothing(epool, county, host):
    open_, approved = await seed_project(epool, host), await seed_project(epool, host, status="approved")
    elsewhere = await seed_project(epool, host, quotas={COUNTY2: 3})
    full = await seed_project(epool, host, level="provincial", quotas={COUNTY: 1})
    tid, other_region = await seed_teacher(epool), await seed_teacher(epool, SCHOOL2)
    assert (await nominate(county, full, await seed_teacher(epool))).status_code == 201
    before = await n_events(epool)
    refused(await nominate(county, approved, tid), 409, "project_not_open")
    refused(await nominate(county, open_, other_region), 422, "teacher_not_in_region")
    refused(await nominate(county, elsewhere, tid), 409, "no_quota")
    refused(await nominate(county, full, tid), 409, "quota_exhausted")
    assert await n_events(epool) == before and await used(epool, full) == 1 and await used(epool, open_) == 0


async def test_already_nominated_in_the_same_project_even_when_the_quota_is_full(epool, county, host):
    pid, tid = await seed_project(epool, host, level="provincial", quotas={COUNTY: 1}), await seed_teacher(epool)
    await enrolled(county, pid, tid)
    before = await n_events(epool)
    refused(await nominate(county, pid, tid), 409, "already_nominated")
    assert await n_events(epool) == before and await used(epool, pid) == 1


async def test_one_national_project_per_teacher_per_year(epool, county, host):
    a, b = await seed_project(epool, host), await seed_project(epool, host, category="其他类别")
    next_year = await seed_project(epool, host, year=2024, category="其他类别")
    provincial = await seed_project(epool, host, level="provincial")
    tid = await seed_teacher(epool)
    await enrolled(county, a, tid)
    refused(await nominate(county, b, tid), 409, "national_limit")
    assert await used(epool, b) == 0
    assert (await nominate(county, next_year, tid)).status_code == 201
    assert (await nominate(county, provincial, tid)).status_code == 201


async def test_category_repeat_after_attending_and_the_cross_year_exemption(epool, as_role, county, host):
    _, tid, _ = await checked_in_enrollment(epool, as_role, county, host)
    assert await epool.fetchval("SELECT category FROM national_attended WHERE teacher_id = $1",
                                uuid.UUID(tid)) == CAT
    same_cat = await seed_project(epool, host, year=2024)
    refused(await nominate(county, same_cat, tid), 409, "category_repeat")
    cross_year = await seed_project(epool, host, year=2024, cross_year=True)
    assert (await nominate(county, cross_year, tid)).status_code == 201


async def test_a_no_show_without_special_reason_bars_national_nominations_for_three_years(epool, as_role, county,
                                                                                           hostc, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    await advance(epool, pid, "started")
    r = await hostc.post(f"/v1/enrollments/{eid}/no-show", json={"special_reason": False})
    assert r.status_code == 200 and r.json()["status"] == "no_show"
    ev = await epool.fetchval("SELECT data FROM events WHERE stream_id = $1 AND type = 'NoShowRecorded'",
                              f"enrollment-{eid}")
    assert ev["barred_until_year"] == 2025 and ev["special_reason"] is False
    for year in (2024, 2025):
        refused(await nominate(county, await seed_project(epool, host, year=year, category=f"c{year}"), tid),
                409, "barred")
    assert (await nominate(county, await seed_project(epool, host, year=2026, category="c"), tid)).status_code == 201
    assert (await nominate(county, await seed_project(epool, host, year=2024, level="provincial"), tid)
            ).status_code == 201


async def test_a_no_show_with_special_reason_is_not_barred(epool, county, hostc, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    await advance(epool, pid, "started")
    assert (await hostc.post(f"/v1/enrollments/{eid}/no-show", json={"special_reason": True})).status_code == 200
    assert not await epool.fetchval("SELECT count(*) FROM national_bars WHERE teacher_id = $1", uuid.UUID(tid))
    assert (await nominate(county, await seed_project(epool, host, year=2024, category="c"), tid)).status_code == 201


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"region_code": COUNTY}, 422, "validation_error"),
    ({"teacher_id": "not-a-uuid", "region_code": COUNTY}, 422, "validation_error"),
    ({"teacher_id": str(uuid.uuid4()), "region_code": 610102}, 422, "validation_error"),
    ({"teacher_id": str(uuid.uuid4()), "region_code": COUNTY, "extra": 1}, 422, "validation_error"),
    ({"teacher_id": str(uuid.uuid4()), "region_code": COUNTY}, 404, "teacher_not_found"),
])
async def test_bad_nominations_are_problems_and_write_nothing(epool, county, host, body, status, code):
    pid = await seed_project(epool, host)
    before = await n_events(epool)
    refused(await county.post(f"/v1/projects/{pid}/nominations", json=body), status, code)
    assert await n_events(epool) == before


async def test_nomination_unknown_project_wrong_role_and_out_of_scope(epool, as_role, county, hostc, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    before = await n_events(epool)
    refused(await nominate(county, str(uuid.uuid4()), tid), 404, "project_not_found")
    refused(await nominate(hostc, pid, tid), 403, "forbidden_role")
    refused(await nominate(teacher(as_role, tid), pid, tid), 403, "forbidden_role")
    refused(await nominate(as_role("county_admin", COUNTY2), pid, tid), 403, "out_of_scope")
    assert await n_events(epool) == before


async def test_idempotent_nomination_replays_without_a_second_event(epool, county, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first, again = await nominate(county, pid, tid, headers=key), await nominate(county, pid, tid, headers=key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true" and await used(epool, pid) == 1


# Replacement (换人) and withdrawal ------------------------------------------------------------

async def test_replace_keeps_the_place_and_moves_the_national_slot(epool, county, host):
    pid, old, new = await seed_project(epool, host), await seed_teacher(epool), await seed_teacher(epool)
    eid = await enrolled(county, pid, old)
    r = await county.post(f"/v1/enrollments/{eid}/replace", json={"teacher_id": new})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    assert await epool.fetchval("SELECT teacher_id FROM enrollments WHERE id = $1", uuid.UUID(eid)) == uuid.UUID(new)
    assert await epool.fetchval("SELECT teacher_id FROM national_slots WHERE enrollment_id = $1",
                                uuid.UUID(eid)) == uuid.UUID(new)
    assert await used(epool, pid) == 1
    # The old teacher is free again for another national project this year.
    assert (await nominate(county, await seed_project(epool, host, category="c"), old)).status_code == 201


async def test_replace_refusals_write_nothing(epool, as_role, county, host):
    pid, old = await seed_project(epool, host), await seed_teacher(epool)
    eid = await enrolled(county, pid, old)
    busy = await seed_teacher(epool)
    await enrolled(county, await seed_project(epool, host, category="c"), busy)
    url, outsider = f"/v1/enrollments/{eid}/replace", await seed_teacher(epool, SCHOOL2)
    before = await n_events(epool)
    refused(await county.post(url, json={"teacher_id": outsider}), 422, "not_same_region")
    refused(await county.post(url, json={"teacher_id": busy}), 409, "national_limit")
    refused(await county.post(url, json={"teacher_id": old}), 409, "already_nominated")
    refused(await county.post(url, json={"teacher_id": str(uuid.uuid4())}), 404, "teacher_not_found")
    refused(await county.post(url, json={}), 422, "validation_error")
    refused(await as_role("county_admin", COUNTY2).post(url, json={"teacher_id": busy}), 403, "out_of_scope")
    refused(await teacher(as_role, old).post(url, json={"teacher_id": busy}), 403, "forbidden_role")
    refused(await county.post(f"/v1/enrollments/{uuid.uuid4()}/replace", json={"teacher_id": old}), 404,
            "enrollment_not_found")
    assert await n_events(epool) == before
    assert await teacher(as_role, old).post(f"/v1/enrollments/{eid}/check-in")
    refused(await county.post(url, json={"teacher_id": await seed_teacher(epool)}), 409, "already_checked_in")


async def test_withdraw_frees_the_place_and_the_national_slot(epool, as_role, county, host):
    pid, tid = await seed_project(epool, host, quotas={COUNTY: 1}), await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    r = await county.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "工作调动"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert await used(epool, pid) == 0
    assert not await epool.fetchval("SELECT count(*) FROM national_slots WHERE teacher_id = $1", uuid.UUID(tid))
    await enrolled(county, pid, await seed_teacher(epool))  # the freed place is taken by a substitute
    refused(await county.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "x"}), 409, "invalid_transition")
    refused(await teacher(as_role, tid).post(f"/v1/enrollments/{eid}/check-in"), 409, "invalid_transition")


async def test_withdraw_refusals(epool, as_role, county, host):
    _, tid, eid = await checked_in_enrollment(epool, as_role, county, host)
    before = await n_events(epool)
    refused(await county.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "x"}), 409, "already_checked_in")
    refused(await county.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": ""}), 422, "validation_error")
    refused(await as_role("county_admin", COUNTY2).post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "x"}),
            403, "out_of_scope")
    assert await n_events(epool) == before


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
    _, _, eid = await checked_in_enrollment(epool, as_role, county, host)
    url = f"/v1/enrollments/{eid}/attendance"
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


# Attendance import (CSV) --------------------------------------------------------------------

async def _two_checked_in(epool, as_role, county, host) -> tuple[str, list[tuple[str, str]]]:
    pid = await seed_project(epool, host)
    pairs = []
    for _ in range(2):
        tid = await seed_teacher(epool)
        eid = await enrolled(county, pid, tid)
        await teacher(as_role, tid).post(f"/v1/enrollments/{eid}/check-in")
        pairs.append((eid, tid))
    return pid, pairs


async def test_import_attendance_with_english_or_chinese_headers(epool, as_role, county, hostc, host):
    pid, [(e1, _), (e2, t2)] = await _two_checked_in(epool, as_role, county, host)
    english = f"enrollment_id,session_date,status,hours\n{e1},2023-07-16,present,6\n{e2},2023-07-16,absent,0\n"
    r = await hostc.post(f"/v1/projects/{pid}/attendance/import", content=english.encode(),
                         headers={"content-type": "text/csv"})
    assert r.status_code == 200 and r.json() == {"recorded": 2, "enrollments": 2}
    chinese = f"\ufeff教师编号,日期,出勤状态,学时\n{t2},2023-07-16,请假,0\n{t2},2023/07/17,出勤,6.5\n"
    r = await hostc.post(f"/v1/projects/{pid}/attendance/import", files={"file": ("考勤.csv", chinese.encode())})
    assert r.status_code == 200, r.text
    rows = await epool.fetch("SELECT session_date::text AS d, status, hours FROM attendance WHERE enrollment_id = $1"
                             " ORDER BY session_date", uuid.UUID(e2))
    assert [(r["d"], r["status"], float(r["hours"])) for r in rows] == [("2023-07-16", "leave", 0.0),
                                                                         ("2023-07-17", "present", 6.5)]
    assert await epool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1 AND type = 'AttendanceRecorded'",
                                f"enrollment-{e2}") == 3


async def test_import_with_a_bad_row_writes_nothing_and_reports_lines(epool, as_role, county, hostc, host):
    pid, [(e1, _), (e2, _)] = await _two_checked_in(epool, as_role, county, host)
    stranger = await enrolled(county, await seed_project(epool, host, level="provincial"), await seed_teacher(epool))
    csv_text = (f"enrollment_id,session_date,status,hours\n{e1},2023-07-16,present,6\n{e2},2023-09-01,present,6\n"
                f"{e1},2023-07-17,late,6\nnot-a-uuid,2023-07-17,present,6\n{stranger},2023-07-16,present,6\n"
                f"{e1},2023-07-16,present,5\n")
    before = await n_events(epool)
    r = await hostc.post(f"/v1/projects/{pid}/attendance/import", content=csv_text.encode())
    refused(r, 422, "invalid_rows")
    assert [(e["line"], e.get("code")) for e in r.json()["errors"]] == [
        (3, "session_out_of_range"), (4, None), (5, None), (6, "enrollment_not_found"), (7, "duplicate_row")]
    assert await n_events(epool) == before
    assert not await epool.fetchval("SELECT count(*) FROM attendance WHERE enrollment_id = $1", uuid.UUID(e1))


async def test_import_refusals(epool, as_role, county, hostc, host):
    pid, _ = await _two_checked_in(epool, as_role, county, host)
    url = f"/v1/projects/{pid}/attendance/import"
    refused(await hostc.post(url, content=b"name,date\nx,y\n"), 422, "bad_csv")
    refused(await hostc.post(url, content=b"enrollment_id,session_date,status,hours\n"), 422, "invalid_rows")
    refused(await hostc.post(url, content=b"\xff\xfe\x00bad"), 422, "bad_csv")
    refused(await county.post(url, content=b"enrollment_id,session_date,status,hours\n"), 403, "out_of_scope")
    refused(await as_role("teacher", sub=str(uuid.uuid4())).post(url, content=b""), 403, "forbidden_role")
    refused(await hostc.post(f"/v1/projects/{uuid.uuid4()}/attendance/import",
                             content=b"enrollment_id,session_date,status,hours\n"), 404, "project_not_found")


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
    refused(await county.post(url, json={"special_reason": False}), 403, "out_of_scope")


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


# Reads ---------------------------------------------------------------------------------------

async def test_get_enrollment_for_each_reader(epool, as_role, county, hostc, host):
    _, tid, eid = await checked_in_enrollment(epool, as_role, county, host)
    await hostc.post(f"/v1/enrollments/{eid}/attendance", json={"session_date": "2023-07-16", "status": "present",
                                                                "hours": 6})
    for client in (county, hostc, teacher(as_role, tid), as_role("service"), as_role("auditor", CITY)):
        r = await client.get(f"/v1/enrollments/{eid}")
        assert r.status_code == 200 and r.headers["ETag"] == '"3"'
        doc = r.json()
        assert (doc["status"], doc["teacher_id"], doc["checked_in_on"] is not None) == ("checked_in", tid, True)
        assert doc["attendance"] == [{"session_date": "2023-07-16", "status": "present", "hours": 6.0}]
    for client in (as_role("county_admin", COUNTY2), as_role("host", str(uuid.uuid4())),
                   teacher(as_role, str(uuid.uuid4()))):
        refused(await client.get(f"/v1/enrollments/{eid}"), 403, "out_of_scope")
    refused(await county.get(f"/v1/enrollments/{uuid.uuid4()}"), 404, "enrollment_not_found")
    refused(await county.get("/v1/enrollments/nope"), 422, "validation_error")


async def test_list_enrollments_filters_scopes_and_pages(epool, as_role, county, host):
    pid = await seed_project(epool, host, level="provincial", quotas={COUNTY: 5, COUNTY2: 5})
    mine = [await enrolled(county, pid, await seed_teacher(epool)) for _ in range(3)]
    t2 = await seed_teacher(epool, SCHOOL2)
    theirs = await enrolled(as_role("county_admin", COUNTY2), pid, t2, COUNTY2)
    seen, cursor = [], None
    while True:
        r = await county.get("/v1/enrollments", params={"project_id": pid, "limit": 2,
                                                        **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200
        seen += [i["id"] for i in r.json()["items"]]
        if not (cursor := r.json()["next_cursor"]):
            break
    assert sorted(seen) == sorted(mine)
    city = await as_role("city_admin", CITY).get("/v1/enrollments", params={"project_id": pid})
    assert len(city.json()["items"]) == 4
    own = await teacher(as_role, t2).get("/v1/enrollments")
    assert [i["id"] for i in own.json()["items"]] == [theirs]
    region = await as_role("service").get("/v1/enrollments", params={"project_id": pid, "region_code": COUNTY2})
    assert [i["id"] for i in region.json()["items"]] == [theirs]
    other_host = await as_role("host", str(uuid.uuid4())).get("/v1/enrollments", params={"project_id": pid})
    assert other_host.json()["items"] == []
    refused(await county.get("/v1/enrollments", params={"cursor": "!!"}), 400, "bad_cursor")
    refused(await county.get("/v1/enrollments", params={"limit": 501}), 422, "validation_error")
