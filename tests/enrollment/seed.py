"""Seeding and request helpers for the enrollment API tests (nominations, progress, reads) and the
selection concurrency tests: the org tree, teachers and projects as given events, and fixtures
for the host and the clients that act.

The fixtures are module-scoped, as the database is: a test module takes them by binding them at
its top (`host, county, hostc = seed.host, seed.county, seed.hostc`), so it gets its own host.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from shared.clock import shanghai_today
from tests.enrollment.given import given

# The Asia/Shanghai "today" of every route in the modules that bind `host` (unless a module pins
# its own): the seeded projects run 2023-07-15..30 and a check-in after a project's last day is
# refused (`project_ended`), so these modules act on a day of the 2023 projects — nominated on the
# day their notice went out (seed_project's `opened_on`), checked in while they run.
SEED_TODAY = date(2023, 7, 20)

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
                       hours: float = 90, year: int = 2023, category: str = CAT, cross_year: bool = False,
                       opened_on: str | None = None, ends_on: str | None = None) -> str:
    """`ends_on`: the last day (a cross-year project's in a later year); else 30 July of `year`."""
    pid = str(uuid.uuid4())
    drafted = {"project_id": pid, "code": f"GP-{pid[:8]}", "name": "国培计划 农村骨干教师培训", "level": level,
               "category": category, "year": year, "host_id": host_id, "organizer_code": PROVINCE,
               "hours": hours, "hour_category": "centralized", "starts_on": f"{year}-07-15",
               "ends_on": ends_on or f"{year}-07-30", "cross_year": cross_year, "practical_ratio": 0.5,
               "modules": [{"name": "师德师风", "hours": 10}]}
    steps = _STEPS["approved" if status == "approved" else "open"]
    # Opened "today" (SEED_TODAY), as the API would have it: the nomination window (004 三(一),
    # domain/policy.py) runs from the notice, and the tests nominate on that day unless they pin one.
    events = [("ProjectDrafted", drafted)] + [
        (t, {"project_id": pid,
             "on": (opened_on or SEED_TODAY.isoformat()) if t == "ProjectOpened" else f"{year}-07-01"})
        for t in steps]
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
async def host(enrollment_app, epool):
    pinned = shanghai_today not in enrollment_app.dependency_overrides
    if pinned:
        enrollment_app.dependency_overrides[shanghai_today] = lambda: SEED_TODAY
    yield await seed_tree(epool)
    if pinned:
        enrollment_app.dependency_overrides.pop(shanghai_today, None)


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



async def approved_leave(as_role, host: str, eid: str, tid: str, day: str) -> None:
    """002 §4.1.3: the teacher asks for leave from the session of `day` and the host approves it,
    so the session may be recorded as `leave`."""
    r = await teacher(as_role, tid).post(f"/v1/enrollments/{eid}/leave-requests",
                                         json={"session_date": day, "reason": "家中有事"})
    assert r.status_code == 201, r.text
    r = await as_role("host", host).post(f"/v1/enrollments/{eid}/leave-requests/{day}/approve", json={})
    assert r.status_code == 200, r.text


@contextlib.contextmanager
def pinned_day(app: Any, day: date) -> Iterator[dict[str, date]]:
    """The app's Shanghai day set to `day` (move it through the yielded {"today": …}); on exit,
    the pin the module had before (SEED_TODAY) is restored, or none."""
    now = {"today": day}
    before = app.dependency_overrides.get(shanghai_today)
    app.dependency_overrides[shanghai_today] = lambda: now["today"]
    try:
        yield now
    finally:
        if before is None:
            app.dependency_overrides.pop(shanghai_today, None)
        else:
            app.dependency_overrides[shanghai_today] = before
