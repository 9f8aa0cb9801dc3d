"""Check-in (报到) after a project's last day over HTTP, on the real app (issue 20): refused
`project_ended`, judged on the Asia/Shanghai calendar day (shared/clock.py `Today`, pinned here),
by the check-in route and by the check-in-code route alike; nothing is written; the last day
itself still checks in."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.enrollment import checkin_codes
from shared.clock import shanghai_today
from tests.enrollment import seed
from tests.enrollment.seed import enrolled, n_events, refused, seed_project, seed_teacher, teacher

host, county, hostc = seed.host, seed.county, seed.hostc


@pytest.fixture
def on_day(enrollment_app):
    """Pins the Asia/Shanghai day for one test, then gives the module its SEED_TODAY back."""
    def pin(day: date) -> None:
        enrollment_app.dependency_overrides[shanghai_today] = lambda: day

    yield pin
    enrollment_app.dependency_overrides[shanghai_today] = lambda: seed.SEED_TODAY


async def test_check_in_after_the_projects_last_day_is_refused_either_way(epool, as_role, county, hostc, host,
                                                                         on_day, enrollment_app):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)  # runs 2023-07-15..30
    eid = await enrolled(county, pid, tid)
    me = teacher(as_role, tid)

    async def at() -> datetime:
        return datetime(2023, 7, 30, 12, 0, tzinfo=UTC)

    enrollment_app.dependency_overrides[checkin_codes.utc_now] = at
    try:
        code = (await hostc.post(f"/v1/projects/{pid}/check-in-codes", json={"session_date": "2023-07-30"})
                ).json()["code"]
        # Given 31 July in Shanghai (the day after the last), When checking in, Then project_ended
        on_day(date(2023, 7, 31))
        before = await n_events(epool)
        refused(await me.post(f"/v1/enrollments/{eid}/check-in"), 409, "project_ended")
        refused(await hostc.post(f"/v1/enrollments/{eid}/check-in"), 409, "project_ended")
        refused(await me.post("/v1/check-ins", json={"code": code}), 409, "project_ended")
        assert await n_events(epool) == before
        # On the last day itself the check-in goes through (the same code)
        on_day(date(2023, 7, 30))
        r = await me.post("/v1/check-ins", json={"code": code})
        assert (r.status_code, r.json()["status"]) == (200, "checked_in"), r.text
    finally:
        enrollment_app.dependency_overrides.pop(checkin_codes.utc_now, None)
