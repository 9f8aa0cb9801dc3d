"""The teacher's own enrollments over HTTP (issue 15, "me" endpoints) on the real app: GET
/v1/me/enrollments lists the token's teacher's enrollments with their projects, paged; check-in
from the app is the existing POST /v1/enrollments/{id}/check-in, which serves the teacher and no
one else's enrollment. Only the teacher role; bad input is a 4xx problem; reads write nothing."""

from __future__ import annotations

import uuid

import pytest

from shared.paging import page_cursor
from tests.enrollment import seed
from tests.enrollment.seed import COUNTY, enrolled, n_events, refused, seed_project, seed_teacher, teacher

host, county, hostc = seed.host, seed.county, seed.hostc  # this module's own instances


async def test_my_enrollments_latest_project_first_paged_and_only_mine(epool, as_role, county, host):
    tid, other = await seed_teacher(epool), await seed_teacher(epool)
    earlier, later = await seed_project(epool, host), await seed_project(epool, host, year=2024)
    e1, e2 = await enrolled(county, earlier, tid), await enrolled(county, later, tid)
    await enrolled(county, earlier, other)
    me = teacher(as_role, tid)
    before = await n_events(epool)

    page = (await me.get("/v1/me/enrollments")).json()
    assert [i["enrollment_id"] for i in page["items"]] == [e2, e1] and page["next_cursor"] is None
    first = page["items"][1]
    assert {k: first[k] for k in ("project_id", "project_name", "year", "starts_on", "ends_on", "status",
                                  "region_code", "checked_in_on", "version")} == {
        "project_id": earlier, "project_name": "国培计划 农村骨干教师培训", "year": 2023, "starts_on": "2023-07-15",
        "ends_on": "2023-07-30", "status": "nominated", "region_code": COUNTY, "checked_in_on": None, "version": 1}

    one = (await me.get("/v1/me/enrollments", params={"limit": 1})).json()
    assert [i["enrollment_id"] for i in one["items"]] == [e2] and one["next_cursor"]
    rest = (await me.get("/v1/me/enrollments", params={"limit": 1, "cursor": one["next_cursor"]})).json()
    assert [i["enrollment_id"] for i in rest["items"]] == [e1] and rest["next_cursor"] is None

    theirs = (await teacher(as_role, other).get("/v1/me/enrollments")).json()
    assert len(theirs["items"]) == 1 and theirs["items"][0]["enrollment_id"] not in (e1, e2)
    for sub in (str(uuid.uuid4()), "not-a-teacher-id"):
        assert (await as_role("teacher", sub=sub).get("/v1/me/enrollments")).json()["items"] == []
    assert await n_events(epool) == before


async def test_the_teacher_checks_in_with_the_existing_route_and_only_their_own(epool, as_role, county, host):
    tid, other = await seed_teacher(epool), await seed_teacher(epool)
    eid = await enrolled(county, await seed_project(epool, host), tid)
    before = await n_events(epool)
    refused(await teacher(as_role, other).post(f"/v1/enrollments/{eid}/check-in"), 403, "out_of_scope")
    assert await n_events(epool) == before
    me = teacher(as_role, tid)
    r = await me.post(f"/v1/enrollments/{eid}/check-in")
    assert (r.status_code, r.json()["status"]) == (200, "checked_in") and await n_events(epool) == before + 1
    again = await me.post(f"/v1/enrollments/{eid}/check-in")
    assert again.status_code == 200 and await n_events(epool) == before + 1  # a repeat is harmless
    mine = (await me.get("/v1/me/enrollments")).json()["items"]
    assert [(i["enrollment_id"], i["status"], i["version"]) for i in mine] == [(eid, "checked_in", 2)]
    assert mine[0]["checked_in_on"] is not None


@pytest.mark.parametrize(("role", "org"), [("county_admin", COUNTY), ("province_admin", "610000"),
                                           ("school_admin", "610102001"), ("auditor", COUNTY), ("host", None),
                                           ("service", None)])
async def test_only_a_teacher_has_a_me(epool, as_role, role, org):
    before = await n_events(epool)
    refused(await as_role(role, org).get("/v1/me/enrollments"), 403, "forbidden_role")
    assert await n_events(epool) == before


@pytest.mark.parametrize(("params", "code"), [
    ({"cursor": "%%%"}, "bad_cursor"), ({"cursor": page_cursor("2023-07-15|not-a-uuid")}, "bad_cursor"),
    ({"cursor": page_cursor("someday")}, "bad_cursor"), ({"limit": 0}, "validation_error"),
    ({"limit": 201}, "validation_error"), ({"limit": "many"}, "validation_error"),
])
async def test_bad_input_is_a_problem(epool, as_role, params, code):
    before = await n_events(epool)
    refused(await as_role("teacher", sub=str(uuid.uuid4())).get("/v1/me/enrollments", params=params), 422, code)
    assert (await as_role(None).get("/v1/me/enrollments")).status_code == 401
    assert await n_events(epool) == before
