"""Attendance imported from CSV on the real app (PostgreSQL + NATS): English or Chinese headers, a raw
body or a multipart upload; a bad row writes nothing and every bad row is reported by line.
"""

from __future__ import annotations

import asyncio
import uuid

from tests.enrollment import seed
from tests.enrollment.seed import approved_leave, enrolled, n_events, refused, seed_project, seed_teacher, teacher

host, county, hostc = seed.host, seed.county, seed.hostc  # this module's own instances


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
    refused(r, 422, "invalid_rows")  # 请假 needs the session's leave approved (002 §4.1.3)
    assert [(e["line"], e["code"]) for e in r.json()["errors"]] == [(2, "leave_not_approved")]
    await approved_leave(as_role, host, e2, t2, "2023-07-16")
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


async def test_import_judges_each_enrollment_as_it_stands(epool, as_role, county, hostc, host):
    """The file's enrollments are judged on their current state (read in one query, not folded
    stream by stream): a nominee not checked in and a withdrawn place are refused by line, and
    nothing is written; without them the file is recorded at each stream's next version."""
    pid, [(e1, t1), (e2, _)] = await _two_checked_in(epool, as_role, county, host)
    await approved_leave(as_role, host, e1, t1, "2023-07-17")
    waiting = await enrolled(county, pid, await seed_teacher(epool))
    gone = await enrolled(county, pid, await seed_teacher(epool))
    assert (await county.post(f"/v1/enrollments/{gone}/withdraw", json={"reason": "工作调动"})).status_code == 200
    head = "enrollment_id,session_date,status,hours\n"
    good = f"{e1},2023-07-16,present,6\n{e2},2023-07-16,present,6\n{e1},2023-07-17,leave,0\n"
    before = await n_events(epool)
    bad = f"{waiting},2023-07-16,present,6\n{gone},2023-07-16,present,6\n"
    r = await hostc.post(f"/v1/projects/{pid}/attendance/import", content=(head + good + bad).encode())
    refused(r, 422, "invalid_rows")
    assert [(e["line"], e["code"]) for e in r.json()["errors"]] == [(5, "not_checked_in"), (6, "invalid_transition")]
    assert await n_events(epool) == before
    r = await hostc.post(f"/v1/projects/{pid}/attendance/import", content=(head + good).encode())
    assert r.status_code == 200 and r.json() == {"recorded": 3, "enrollments": 2}
    versions = dict(await epool.fetch("SELECT stream_id, max(version) FROM events WHERE stream_id = ANY($1)"
                                      " GROUP BY stream_id", [f"enrollment-{e1}", f"enrollment-{e2}"]))
    # nominated, checked in (e1: leave requested and approved), + the file's
    assert versions == {f"enrollment-{e1}": 6, f"enrollment-{e2}": 3}
    assert await epool.fetchval("SELECT version FROM enrollments WHERE id = $1", uuid.UUID(e1)) == 6


async def test_sheets_of_one_project_uploaded_at_once_are_all_recorded(epool, as_role, county, hostc, host):
    """Each session's sheet names the same enrollments, so sheets uploaded together race on the
    same streams. The kernel decides a loser again on the versions that won (shared/unit_of_work.py):
    every sheet is recorded, none comes back 409 whole (docs/scale.md, finding 4, before)."""
    pid, pairs = await _two_checked_in(epool, as_role, county, host)
    days = [f"2023-07-{d}" for d in range(16, 20)]  # four sheets: no more than the kernel's attempts
    head = "enrollment_id,session_date,status,hours\n"
    sheets = [head + "".join(f"{eid},{day},present,6\n" for eid, _ in pairs) for day in days]
    replies = await asyncio.gather(*(hostc.post(f"/v1/projects/{pid}/attendance/import", content=s.encode(),
                                                headers={"content-type": "text/csv"}) for s in sheets))
    assert [r.status_code for r in replies] == [200] * len(days), [r.text for r in replies]
    for eid, _ in pairs:
        rows = await epool.fetch("SELECT session_date::text AS d FROM attendance WHERE enrollment_id = $1"
                                 " ORDER BY session_date", uuid.UUID(eid))
        assert [r["d"] for r in rows] == days
        # nominated, checked in, then one AttendanceRecorded per sheet at consecutive versions
        assert await epool.fetchval("SELECT array_agg(version ORDER BY version) FROM events WHERE stream_id = $1",
                                    f"enrollment-{eid}") == [1, 2, 3, 4, 5, 6]
