"""The selection rules hold under concurrency, on real PostgreSQL through the real app: a region's
quota, one 国培 project per teacher per year, and Idempotency-Key retries (DESIGN.md: rules that
span streams are enforced race-free and proven with concurrent tests)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from tests.enrollment import seed
from tests.enrollment.seed import COUNTY, PROVINCE, advance, nominate, seed_project, seed_teacher

host = seed.host  # routes on seed.SEED_TODAY, the day the seeded projects' notices went out


@pytest.fixture(scope="module")
def county(as_role):
    return as_role("county_admin", COUNTY)


def outcomes(replies) -> Counter:
    return Counter((r.status_code, r.json().get("code")) for r in replies)


async def nominations(epool, pid: str) -> int:
    return await epool.fetchval(
        "SELECT count(*) FROM events WHERE type = 'TeacherNominated' AND data->>'project_id' = $1", pid)


async def test_fifty_parallel_nominations_for_the_last_five_places(epool, county, host):
    pid = await seed_project(epool, host, level="provincial", quotas={COUNTY: 7})
    for _ in range(2):
        assert (await nominate(county, pid, await seed_teacher(epool))).status_code == 201
    teachers = [await seed_teacher(epool) for _ in range(50)]
    replies = await asyncio.gather(*(nominate(county, pid, t) for t in teachers))
    assert outcomes(replies) == {(201, None): 5, (409, "quota_exhausted"): 45}
    row = await epool.fetchrow("SELECT used, places FROM project_quotas WHERE project_id = $1", uuid.UUID(pid))
    assert row["used"] == row["places"] == 7
    assert await epool.fetchval("SELECT count(*) FROM enrollments WHERE project_id = $1", uuid.UUID(pid)) == 7
    assert await nominations(epool, pid) == 7


async def test_one_teacher_raced_into_two_national_projects_of_one_year(epool, county, host):
    a, b = await seed_project(epool, host), await seed_project(epool, host, category="市县教师培训团队研修")
    tid = await seed_teacher(epool)
    replies = await asyncio.gather(*(nominate(county, (a, b)[i % 2], tid) for i in range(10)))
    assert outcomes(replies) == {(201, None): 1, (409, "national_limit"): 9}
    assert await epool.fetchval("SELECT count(*) FROM enrollments WHERE teacher_id = $1", uuid.UUID(tid)) == 1
    assert await epool.fetchval("SELECT count(*) FROM national_slots WHERE teacher_id = $1", uuid.UUID(tid)) == 1
    used = await epool.fetchval("SELECT sum(used) FROM project_quotas WHERE project_id = ANY($1::uuid[])", [a, b])
    assert used == 1 and await nominations(epool, a) + await nominations(epool, b) == 1


async def test_concurrent_retries_with_one_idempotency_key_nominate_once(epool, county, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    key = {"Idempotency-Key": f"nominate-{uuid.uuid4()}"}
    replies = await asyncio.gather(*(nominate(county, pid, tid, headers=key) for _ in range(10)))
    assert {r.status_code for r in replies} == {201}
    assert len({r.json()["enrollment_id"] for r in replies}) == 1
    assert await nominations(epool, pid) == 1


async def test_withdrawals_racing_nominations_keep_used_equal_to_live_enrollments(epool, county, host):
    pid = await seed_project(epool, host, level="provincial", quotas={COUNTY: 5})
    live = [(await nominate(county, pid, await seed_teacher(epool))).json()["enrollment_id"] for _ in range(5)]
    newcomers = [await seed_teacher(epool) for _ in range(20)]
    withdrawals = [county.post(f"/v1/enrollments/{e}/withdraw", json={"reason": "调整"}) for e in live]
    replies = await asyncio.gather(*withdrawals, *(nominate(county, pid, t) for t in newcomers))
    assert {r.status_code for r in replies[:5]} == {200}
    assert set(outcomes(replies[5:])) <= {(201, None), (409, "quota_exhausted")}
    used = await epool.fetchval("SELECT used FROM project_quotas WHERE project_id = $1", uuid.UUID(pid))
    nominated = await epool.fetchval("SELECT count(*) FROM enrollments WHERE project_id = $1 AND status = 'nominated'",
                                     uuid.UUID(pid))
    assert used == nominated <= 5


async def test_fifty_parallel_nominations_under_a_province_policy_and_ten_substitutes_for_one_vacancy(
        epool, as_role, county, host):
    # The province's own policy governs (its window, named in every event); the quota still holds.
    r = await as_role("province_admin", PROVINCE).put(f"/v1/policies/{PROVINCE}", json={
        "effective_from": "2020-01-01", "nomination_window_days": 60, "bar_years": 2})
    assert r.status_code == 201, r.text
    pid = await seed_project(epool, host, quotas={COUNTY: 5})
    teachers = [await seed_teacher(epool) for _ in range(50)]
    replies = await asyncio.gather(*(nominate(county, pid, t) for t in teachers))
    assert outcomes(replies) == {(201, None): 5, (409, "quota_exhausted"): 45}
    assert await epool.fetchval("SELECT count(DISTINCT data->>'policy') FROM events WHERE type = 'TeacherNominated'"
                                " AND data->>'project_id' = $1", pid) == 1
    assert await epool.fetchval("SELECT min(data->>'policy') FROM events WHERE type = 'TeacherNominated'"
                                " AND data->>'project_id' = $1", pid) == f"{PROVINCE}@2020-01-01"
    # One nominee does not come: ten substitutes race for the one place it leaves.
    absent = next(r.json()["enrollment_id"] for r in replies if r.status_code == 201)
    await advance(epool, pid, "started")
    assert (await county.post(f"/v1/enrollments/{absent}/no-show", json={"special_reason": False})).status_code == 200
    subs = [await seed_teacher(epool) for _ in range(10)]
    replies = await asyncio.gather(*(county.post(f"/v1/projects/{pid}/nominations", json={
        "teacher_id": t, "region_code": COUNTY, "substitute_for": absent}) for t in subs))
    assert outcomes(replies) == {(201, None): 1, (409, "vacancy_filled"): 9}
    assert await epool.fetchval("SELECT used FROM project_quotas WHERE project_id = $1", uuid.UUID(pid)) == 5
    assert await nominations(epool, pid) == 6
