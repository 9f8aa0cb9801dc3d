"""Reading enrollments on the real app (PostgreSQL + NATS): one enrollment for each kind of reader, and
the list's filters, scopes and cursor paging.
"""

from __future__ import annotations

import uuid

from tests.enrollment import seed
from tests.enrollment.seed import (
    CITY,
    COUNTY,
    COUNTY2,
    SCHOOL2,
    checked_in_enrollment,
    enrolled,
    n_events,
    refused,
    seed_project,
    seed_teacher,
    teacher,
)

host, county, hostc = seed.host, seed.county, seed.hostc  # this module's own instances


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
    refused(await county.get("/v1/enrollments", params={"cursor": "!!"}), 422, "bad_cursor")
    refused(await county.get("/v1/enrollments", params={"limit": 501}), 422, "validation_error")


async def test_a_school_admin_follows_and_checks_in_its_own_teachers(epool, as_role, county, host):
    # Issue 20: a school sees its teachers' enrollments whichever region nominated them, and may
    # check them in; another school's admin sees none and may not.
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)  # teaches at SCHOOL
    eid = await enrolled(county, pid, tid)
    school, other = as_role("school_admin", seed.SCHOOL), as_role("school_admin", seed.SCHOOL2)
    listed = (await school.get("/v1/enrollments", params={"project_id": pid})).json()["items"]
    assert [i["id"] for i in listed] == [eid]
    assert (await other.get("/v1/enrollments", params={"project_id": pid})).json()["items"] == []
    assert (await school.get(f"/v1/enrollments/{eid}")).status_code == 200
    refused(await other.get(f"/v1/enrollments/{eid}"), 403, "out_of_scope")
    before = await n_events(epool)
    refused(await other.post(f"/v1/enrollments/{eid}/check-in"), 403, "out_of_scope")
    assert await n_events(epool) == before
    r = await school.post(f"/v1/enrollments/{eid}/check-in")
    assert (r.status_code, r.json()["status"]) == (200, "checked_in"), r.text
