"""A city splits its places among its counties (004 §2.2), over HTTP on the real app (PostgreSQL +
NATS): the city's own admin gives each county a sub-quota out of the city's quota, never more in
total than the city has left after its own direct nominations; the counties nominate within their
sub-quotas, race-free. Every refusal is problem+json and writes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from tests.enrollment.seed import (
    CITY,
    COUNTY,
    COUNTY2,
    SCHOOL,
    SCHOOL2,
    n_events,
    nominate,
    refused,
    seed_project,
    seed_teacher,
    seed_tree,
)


@pytest.fixture(scope="module")
async def host(epool) -> str:
    return await seed_tree(epool)


@pytest.fixture(scope="module")
def city(as_role):
    return as_role("city_admin", CITY)


def split_url(pid: str, county: str, city_code: str = CITY) -> str:
    return f"/v1/projects/{pid}/quotas/{city_code}/splits/{county}"


async def rows(epool, pid: str) -> dict[str, tuple]:
    found = await epool.fetch("SELECT region_code, places, used, split, split_from FROM project_quotas"
                              " WHERE project_id = $1", uuid.UUID(pid))
    return {r["region_code"]: tuple(r)[1:] for r in found}


async def test_a_city_splits_its_places_to_its_counties_within_its_quota(epool, host, city, as_role):
    pid = await seed_project(epool, host, level="provincial", quotas={CITY: 10})
    r = await city.put(split_url(pid, COUNTY), json={"places": 4})
    assert r.status_code == 200 and r.json() == {"project_id": pid, "city_code": CITY, "region_code": COUNTY,
                                                 "places": 4, "version": 6}, r.text
    assert (await city.put(split_url(pid, COUNTY2), json={"places": 5})).status_code == 200
    assert await rows(epool, pid) == {CITY: (10, 0, 9, None), COUNTY: (4, 0, 0, CITY), COUNTY2: (5, 0, 0, CITY)}
    # The city nominates directly on what it kept: 1 place.
    assert (await nominate(city, pid, await seed_teacher(epool), CITY)).status_code == 201
    tid = await seed_teacher(epool)
    before = await n_events(epool)
    refused(await nominate(city, pid, tid, CITY), 409, "quota_exhausted")
    # 4 + 6 + the 1 the city used > 10: over_split, nothing written.
    r = await city.put(split_url(pid, COUNTY2), json={"places": 6})
    refused(r, 409, "over_split")
    assert "5 of its 10 places left" in r.json()["detail"] and r.json()["title"].startswith("分配名额超出本市指标")
    assert await n_events(epool) == before
    assert await rows(epool, pid) == {CITY: (10, 1, 9, None), COUNTY: (4, 0, 0, CITY), COUNTY2: (5, 0, 0, CITY)}
    # Moving places back to the city and on to the other county.
    assert (await city.put(split_url(pid, COUNTY), json={"places": 2})).status_code == 200
    assert (await city.put(split_url(pid, COUNTY2), json={"places": 7})).status_code == 200
    assert await rows(epool, pid) == {CITY: (10, 1, 9, None), COUNTY: (2, 0, 0, CITY), COUNTY2: (7, 0, 0, CITY)}
    # The county nominates within its sub-quota; the city cannot take it below what it uses.
    county = as_role("county_admin", COUNTY)
    for _ in range(2):
        assert (await nominate(county, pid, await seed_teacher(epool))).status_code == 201
    refused(await nominate(county, pid, await seed_teacher(epool)), 409, "quota_exhausted")
    refused(await city.put(split_url(pid, COUNTY), json={"places": 1}), 409, "quota_below_used")
    # The organizer may not take the city below what it used and gave, nor re-allocate a county's split places.
    province = as_role("province_admin", "610000")
    refused(await province.put(f"/v1/projects/{pid}/quotas/{CITY}", json={"places": 9}), 409, "quota_below_used")
    refused(await province.put(f"/v1/projects/{pid}/quotas/{COUNTY}", json={"places": 9}), 409,
            "quota_source_conflict")
    assert (await province.put(f"/v1/projects/{pid}/quotas/{CITY}", json={"places": 12})).status_code == 200
    doc = (await city.get(f"/v1/projects/{pid}")).json()
    assert {q["region_code"]: (q["places"], q["used"], q["split"], q["split_from"]) for q in doc["quotas"]} == {
        CITY: (12, 1, 9, None), COUNTY: (2, 2, 0, CITY), COUNTY2: (7, 0, 0, CITY)}


@pytest.mark.parametrize(("who", "city_code", "county", "body", "status", "code"), [
    (("county_admin", COUNTY), CITY, COUNTY, {"places": 1}, 403, "forbidden_role"),  # a county does not split
    (("city_admin", "610200"), CITY, COUNTY, {"places": 1}, 403, "out_of_scope"),  # another city's admin
    (("city_admin", "610200"), "610200", COUNTY, {"places": 1}, 409, "no_quota"),  # its own city, no places
    (("province_admin", "610000"), CITY, COUNTY, {"places": 1}, 403, "forbidden_role"),
    (("host", None), CITY, COUNTY, {"places": 1}, 403, "forbidden_role"),
    (("teacher", None), CITY, COUNTY, {"places": 1}, 403, "forbidden_role"),
    (("city_admin", CITY), CITY, COUNTY, {"places": 4}, 409, "over_split"),
    (("city_admin", CITY), CITY, COUNTY, {"places": -1}, 422, "validation_error"),
    (("city_admin", CITY), CITY, COUNTY, {}, 422, "validation_error"),
    (("city_admin", CITY), CITY, SCHOOL, {"places": 1}, 422, "region_not_under_city"),  # a school, not a county
    (("city_admin", CITY), CITY, CITY, {"places": 1}, 422, "region_not_under_city"),
    (("city_admin", CITY), CITY, "610199", {"places": 1}, 404, "region_not_found"),
])
async def test_bad_splits_write_nothing(epool, host, as_role, who, city_code, county, body, status, code):
    pid = await seed_project(epool, host, level="provincial", quotas={CITY: 3})
    before, quotas = await n_events(epool), await rows(epool, pid)
    async with as_role(*who) as client:
        refused(await client.put(split_url(pid, county, city_code), json=body), status, code)
    assert await n_events(epool) == before and await rows(epool, pid) == quotas


async def test_a_city_without_a_quota_or_a_closed_project_splits_nothing(epool, host, city):
    no_quota = await seed_project(epool, host, level="provincial", quotas={COUNTY2: 3})
    closed = await seed_project(epool, host, level="provincial", status="closed", quotas={CITY: 3})
    before = await n_events(epool)
    refused(await city.put(split_url(no_quota, COUNTY), json={"places": 1}), 409, "no_quota")
    refused(await city.put(split_url(no_quota, COUNTY2), json={"places": 1}), 409, "no_quota")
    refused(await city.put(split_url(closed, COUNTY), json={"places": 1}), 409, "project_inactive")
    refused(await city.put(split_url(str(uuid.uuid4()), COUNTY), json={"places": 1}), 404, "project_not_found")
    assert await n_events(epool) == before


async def test_a_county_quota_of_the_organizer_is_not_the_citys_to_split(epool, host, city):
    pid = await seed_project(epool, host, level="provincial", quotas={CITY: 3, COUNTY: 2})
    before = await n_events(epool)
    refused(await city.put(split_url(pid, COUNTY), json={"places": 1}), 409, "quota_source_conflict")
    assert await n_events(epool) == before


async def test_racing_city_nominations_county_nominations_and_splits_never_exceed_the_citys_places(
        epool, host, city, as_role):
    pid = await seed_project(epool, host, level="provincial", quotas={CITY: 8})
    assert (await city.put(split_url(pid, COUNTY), json={"places": 3})).status_code == 200
    county = as_role("county_admin", COUNTY)
    direct = [nominate(city, pid, await seed_teacher(epool, SCHOOL2), CITY) for _ in range(8)]
    local = [nominate(county, pid, await seed_teacher(epool)) for _ in range(6)]
    splits = [city.put(split_url(pid, COUNTY2), json={"places": n}) for n in (1, 2, 3, 4)]
    replies = await asyncio.gather(*direct, *local, *splits)
    counted = Counter((r.status_code, r.json().get("code")) for r in replies[:14])
    q = await rows(epool, pid)
    places, used, split, _ = q[CITY]
    assert used + split <= places == 8 and q[COUNTY][1] == 3  # the county filled its 3, no more
    assert split == 3 + q.get(COUNTY2, (0,))[0]
    assert counted[(201, None)] == used + 3 and counted[(409, "quota_exhausted")] == 14 - used - 3
    assert all(r.status_code in (200, 409) for r in replies[14:])
    assert await epool.fetchval("SELECT count(*) FROM enrollments WHERE project_id = $1 AND region_code = $2",
                                uuid.UUID(pid), CITY) == used


async def test_an_organizer_allocation_racing_a_split_for_one_county_leaves_one_source(epool, host, city, as_role):
    # Both append to the project's stream, so one of two racing commits first: the other is a 409
    # (a concurrent change, or, run again on the new facts, the source conflict) and writes nothing.
    province = as_role("province_admin", "610000")
    for _ in range(5):
        pid = await seed_project(epool, host, level="provincial", quotas={CITY: 6})
        split, direct = await asyncio.gather(city.put(split_url(pid, COUNTY), json={"places": 2}),
                                             province.put(f"/v1/projects/{pid}/quotas/{COUNTY}", json={"places": 3}))
        assert sorted((split.status_code, direct.status_code)) == [200, 409], (split.text, direct.text)
        loser = split if split.status_code == 409 else direct
        assert loser.json()["code"] in ("concurrency_conflict", "quota_source_conflict")
        q = await rows(epool, pid)
        if split.status_code == 200:
            assert q[CITY] == (6, 0, 2, None) and q[COUNTY] == (2, 0, 0, CITY)
            refused(await province.put(f"/v1/projects/{pid}/quotas/{COUNTY}", json={"places": 3}), 409,
                    "quota_source_conflict")
        else:
            assert q[CITY] == (6, 0, 0, None) and q[COUNTY] == (3, 0, 0, None)
            refused(await city.put(split_url(pid, COUNTY), json={"places": 2}), 409, "quota_source_conflict")
