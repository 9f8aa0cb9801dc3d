"""Enrollment policy over HTTP (PUT/GET /v1/policies/{code}, issue 15) on the real app: publish,
correct and repeat a version; read the one in force; who may publish; bad input; and the
nomination window it sets (004 三(一)): day 21 after the notice refused, a replacement on day 25
accepted, a province's own window honoured and named in the event."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from tests.enrollment import seed
from tests.enrollment.seed import (
    COUNTY,
    COUNTY2,
    PROVINCE,
    advance,
    enrolled,
    n_events,
    nominate,
    refused,
    seed_project,
    seed_teacher,
)

host, county = seed.host, seed.county
LATER = "2030-01-01"  # the province's versions take effect here; before it the national default governs


@pytest.fixture
def clock(enrollment_app):
    with seed.pinned_day(enrollment_app, date(2026, 3, 1)) as now:
        yield now


def body(**fields) -> dict:
    return {"effective_from": LATER, **fields}


async def test_a_version_is_published_read_in_force_corrected_and_repeated(as_role, epool, clock):
    province, teacher = as_role("province_admin", PROVINCE), as_role("teacher", sub=str(uuid.uuid4()))
    before = await n_events(epool)
    r = await province.put(f"/v1/policies/{PROVINCE}", json=body(nomination_window_days=30, bar_years=2))
    assert r.status_code == 201, r.text
    assert (r.headers["ETag"], r.headers["Location"]) == ('"1"', f"/v1/policies/{PROVINCE}?as_of={LATER}")
    assert (r.json()["policy"], r.json()["nomination_window_days"], r.json()["plan_lead_days"]) == (
        f"{PROVINCE}@{LATER}", 30, 10)  # left out: the national default
    assert await n_events(epool) == before + 1

    got = (await teacher.get(f"/v1/policies/{COUNTY}", params={"as_of": "2030-06-01"})).json()
    assert (got["policy"], got["bar_years"], got["requested_code"]) == (f"{PROVINCE}@{LATER}", 2, COUNTY)
    default = (await teacher.get(f"/v1/policies/{COUNTY}", params={"as_of": "2029-12-31"})).json()
    assert (default["policy"], default["nomination_window_days"], default["bar_years"]) == ("default", 20, 3)

    repeat = await province.put(f"/v1/policies/{PROVINCE}", json=body(nomination_window_days=30, bar_years=2))
    assert repeat.status_code == 200 and await n_events(epool) == before + 1
    corrected = await province.put(f"/v1/policies/{PROVINCE}", json=body(nomination_window_days=35, bar_years=2))
    assert (corrected.status_code, corrected.headers["ETag"]) == (200, '"2"')
    got = (await teacher.get(f"/v1/policies/{PROVINCE}", params={"as_of": "2030-06-01"})).json()
    assert (got["nomination_window_days"], got["version"]) == (35, 2)


@pytest.mark.parametrize(("payload", "code"), [
    (body(nomination_window_days=0), "validation_error"),
    (body(single_year_end="2-30"), "validation_error"),
    (body(single_year_end="02-30"), "invalid_policy"),  # a date no year has
    (body(surprise=1), "validation_error"),
    ({"nomination_window_days": 20}, "validation_error"),  # effective_from missing
])
async def test_bad_input_is_422_problem_json_and_writes_nothing(as_role, epool, payload, code):
    before = await n_events(epool)
    r = await as_role("province_admin", PROVINCE).put(f"/v1/policies/{PROVINCE}", json=payload)
    refused(r, 422, code)
    assert await n_events(epool) == before


async def test_a_code_that_is_no_jurisdiction_is_422(as_role, epool):
    before = await n_events(epool)
    refused(await as_role("province_admin", PROVINCE).put("/v1/policies/61", json=body()), 422, "validation_error")
    refused(await as_role("province_admin", PROVINCE).put("/v1/policies/000000", json=body()), 403, "out_of_scope")
    assert await n_events(epool) == before


@pytest.mark.parametrize(("role", "org", "code", "problem"), [
    ("county_admin", COUNTY, COUNTY2, "out_of_scope"),  # a sibling county
    ("county_admin", COUNTY, PROVINCE, "out_of_scope"),  # above its own
    ("teacher", None, PROVINCE, "forbidden_role"), ("host", None, PROVINCE, "forbidden_role"),
    ("auditor", PROVINCE, PROVINCE, "forbidden_role"),
])
async def test_out_of_scope_or_another_role_is_403_and_writes_nothing(as_role, epool, role, org, code, problem):
    before = await n_events(epool)
    refused(await as_role(role, org).put(f"/v1/policies/{code}", json=body()), 403, problem)
    assert await n_events(epool) == before


async def test_a_county_publishes_its_own_and_it_wins_over_the_province(as_role):
    r = await as_role("county_admin", COUNTY).put(f"/v1/policies/{COUNTY}", json=body(effective_from="2031-01-01",
                                                                                       bar_years=1))
    assert r.status_code == 201, r.text
    reader = as_role("teacher", sub=str(uuid.uuid4()))
    assert (await reader.get(f"/v1/policies/{COUNTY}", params={"as_of": "2031-02-01"})).json()["bar_years"] == 1
    assert (await reader.get(f"/v1/policies/{COUNTY2}", params={"as_of": "2031-02-01"})).json()["policy"] != \
        f"{COUNTY}@2031-01-01"
    assert (await as_role("teacher").get(f"/v1/policies/{COUNTY}")).status_code == 200
    assert (await as_role("teacher").get("/v1/policies/abc")).status_code == 422


async def test_the_window_refuses_day_21_and_lets_a_replacement_through_on_day_25(as_role, epool, county, host,
                                                                                  clock):
    notice = date(2026, 3, 1)  # before LATER: the national default's 20 days
    pid = await seed_project(epool, host, opened_on=notice.isoformat())
    clock["today"] = notice + timedelta(days=20)
    eid = await enrolled(county, pid, await seed_teacher(epool))
    clock["today"] = notice + timedelta(days=21)
    late = await seed_teacher(epool)
    before = await n_events(epool)
    refused(await nominate(county, pid, late), 409, "window_closed")
    assert await n_events(epool) == before
    clock["today"] = notice + timedelta(days=25)
    r = await county.post(f"/v1/enrollments/{eid}/replace", json={"teacher_id": await seed_teacher(epool)})
    assert r.status_code == 200, r.text
    replaced = await epool.fetchval("SELECT data FROM events WHERE stream_id = $1 AND type = 'NomineeReplaced'",
                                    f"enrollment-{eid}")
    assert replaced["policy"] == "default"


async def test_a_vacancy_left_by_a_no_show_is_filled_on_day_25_once_without_a_place_of_its_own(
        as_role, epool, county, host, clock):
    notice = date(2026, 3, 1)
    pid = await seed_project(epool, host, opened_on=notice.isoformat(), quotas={COUNTY: 1, COUNTY2: 1})
    clock["today"] = notice + timedelta(days=5)
    absent = await enrolled(county, pid, await seed_teacher(epool))
    await advance(epool, pid, "started")
    clock["today"] = notice + timedelta(days=25)
    url = f"/v1/projects/{pid}/nominations"
    sub1, sub2 = await seed_teacher(epool), await seed_teacher(epool)
    refused(await county.post(url, json={"teacher_id": sub1, "region_code": COUNTY, "substitute_for": absent}),
            409, "not_a_vacancy")  # not a no-show yet
    assert (await county.post(f"/v1/enrollments/{absent}/no-show", json={"special_reason": False})).status_code == 200
    refused(await nominate(county, pid, sub1), 409, "project_not_open")  # an ordinary nomination: too late
    elsewhere = await seed_teacher(epool, seed.SCHOOL2)  # another county's teacher for its own region
    refused(await as_role("county_admin", COUNTY2).post(
        url, json={"teacher_id": elsewhere, "region_code": COUNTY2, "substitute_for": absent}), 409, "not_a_vacancy")
    r = await county.post(url, json={"teacher_id": sub1, "region_code": COUNTY, "substitute_for": absent})
    assert r.status_code == 201, r.text
    data = await epool.fetchval("SELECT data FROM events WHERE stream_id = $1",
                                f"enrollment-{r.json()['enrollment_id']}")
    assert data["substitute_for"] == absent
    assert await seed.used(epool, pid) == 1  # the no-show's place, not a second one
    before = await n_events(epool)
    refused(await county.post(url, json={"teacher_id": sub2, "region_code": COUNTY, "substitute_for": absent}),
            409, "vacancy_filled")
    assert await n_events(epool) == before


async def test_the_province_window_governs_nominations_from_its_effective_date_and_is_named(
        as_role, epool, county, host, clock):
    await as_role("province_admin", PROVINCE).put(f"/v1/policies/{PROVINCE}", json=body(nomination_window_days=35))
    pid = await seed_project(epool, host, opened_on="2030-01-01")
    clock["today"] = date(2030, 2, 1)  # day 31: closed under the default, open under the province's 35
    eid = await enrolled(county, pid, await seed_teacher(epool))
    data = await epool.fetchval("SELECT data FROM events WHERE stream_id = $1", f"enrollment-{eid}")
    assert data["policy"] == f"{PROVINCE}@{LATER}"
    clock["today"] = date(2030, 2, 6)
    refused(await nominate(county, pid, await seed_teacher(epool)), 409, "window_closed")
