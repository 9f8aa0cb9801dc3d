"""The eligibility preview over HTTP (issue 15) on the real app (PostgreSQL + NATS): for one teacher
and for a page of a region's roster, each nomination rule's verdict — and, for every refusal code,
the preview names the code the nomination then gives. Bad input is a 4xx problem, other roles and
other regions 403, and a preview writes nothing."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from shared.paging import page_cursor
from tests.enrollment import seed
from tests.enrollment.given import given
from tests.enrollment.seed import (
    CITY,
    COUNTY,
    COUNTY2,
    SCHOOL2,
    advance,
    checked_in_enrollment,
    enrolled,
    n_events,
    nominate,
    refused,
    seed_project,
    seed_teacher,
    teacher,
    used,
)

host, county, hostc = seed.host, seed.county, seed.hostc  # this module's own instances
RULES = ["project_open", "teacher_in_region", "quota", "vacancy", "window", "bar", "category_repeat", "national_limit",
         "already_nominated", "places_left"]


async def preview(client, pid: str, tid: str, region: str = COUNTY):
    return await client.get(f"/v1/projects/{pid}/eligibility", params={"teacher_id": tid, "region_code": region})


async def judged(client, pid: str, tid: str, region: str = COUNTY) -> dict:
    r = await preview(client, pid, tid, region)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [v["rule"] for v in body["verdicts"]] == RULES
    return body


def verdict(body: dict, rule: str) -> dict:
    return next(v for v in body["verdicts"] if v["rule"] == rule)


# One teacher ---------------------------------------------------------------------------------

async def test_a_clean_teacher_is_eligible_with_every_figure_and_nothing_is_written(epool, county, host):
    pid, tid = await seed_project(epool, host, quotas={COUNTY: 5}), await seed_teacher(epool)
    before = await n_events(epool)
    body = await judged(county, pid, tid)
    assert (body["eligible"], body["refusal"], body["policy"]) == (True, None, "default")
    assert (body["project_id"], body["teacher_id"], body["region_code"]) == (pid, tid, COUNTY)
    assert all(v["ok"] and v["code"] is None for v in body["verdicts"])
    assert verdict(body, "places_left")["facts"] == {"places": 5, "used": 0, "left": 5}
    today = seed.SEED_TODAY
    assert verdict(body, "window")["facts"]["closes_on"] == (today + timedelta(days=20)).isoformat()
    assert (verdict(body, "bar")["source"], verdict(body, "bar")["title"]) == ("004 §4.1",
                                                                               "国培禁参期 Bar from national projects")
    assert await n_events(epool) == before and await used(epool, pid) == 0

    await enrolled(county, pid, tid)
    after = await judged(county, pid, tid)
    # The national project's place is also the teacher's national project of the year, reported first.
    assert (after["eligible"], after["refusal"]) == (False, "national_limit")
    assert [v["code"] for v in after["verdicts"] if not v["ok"]] == ["national_limit", "already_nominated"]
    assert verdict(after, "places_left")["facts"] == {"places": 5, "used": 1, "left": 4}


async def scenario(epool, as_role, county, hostc, host, code: str) -> tuple[str, str, object, str]:
    """Facts under which a nomination is refused `code`: (project, teacher, client, region)."""
    t = await seed_teacher(epool)
    if code == "project_not_open":
        return await seed_project(epool, host, status="approved"), t, county, COUNTY
    if code == "teacher_not_in_region":  # a city admin sees both counties' teachers
        return await seed_project(epool, host), await seed_teacher(epool, SCHOOL2), as_role("city_admin", CITY), COUNTY
    if code == "no_quota":
        return await seed_project(epool, host, quotas={COUNTY2: 3}), t, county, COUNTY
    if code == "window_closed":
        opened = (seed.SEED_TODAY - timedelta(days=21)).isoformat()
        return await seed_project(epool, host, opened_on=opened), t, county, COUNTY
    if code == "barred":
        missed = await seed_project(epool, host)
        eid = await enrolled(county, missed, t)
        await advance(epool, missed, "started")
        assert (await hostc.post(f"/v1/enrollments/{eid}/no-show", json={"special_reason": False})).status_code == 200
        return await seed_project(epool, host, year=2024, category="c-barred"), t, county, COUNTY
    if code == "category_repeat":
        _, t, _ = await checked_in_enrollment(epool, as_role, county, host)
        return await seed_project(epool, host, year=2024), t, county, COUNTY
    if code == "national_limit":
        await enrolled(county, await seed_project(epool, host), t)
        return await seed_project(epool, host, category="c-other"), t, county, COUNTY
    if code == "already_nominated":  # a provincial project: a national one is refused national_limit first
        pid = await seed_project(epool, host, level="provincial")
        await enrolled(county, pid, t)
        return pid, t, county, COUNTY
    assert code == "quota_exhausted"
    pid = await seed_project(epool, host, level="provincial", quotas={COUNTY: 1})
    await enrolled(county, pid, await seed_teacher(epool))
    return pid, t, county, COUNTY


@pytest.mark.parametrize(("code", "status", "rule"), [
    ("project_not_open", 409, "project_open"), ("teacher_not_in_region", 422, "teacher_in_region"),
    ("no_quota", 409, "quota"), ("window_closed", 409, "window"), ("barred", 409, "bar"),
    ("category_repeat", 409, "category_repeat"), ("national_limit", 409, "national_limit"),
    ("already_nominated", 409, "already_nominated"), ("quota_exhausted", 409, "places_left")])
async def test_the_preview_names_the_refusal_the_nomination_then_gives(epool, as_role, county, hostc, host, code,
                                                                       status, rule):
    pid, tid, client, region = await scenario(epool, as_role, county, hostc, host, code)
    before = await n_events(epool)
    body = await judged(client, pid, tid, region)
    assert (body["eligible"], body["refusal"]) == (False, code)
    failed = verdict(body, rule)
    assert (failed["ok"], failed["code"]) == (False, code) and failed["detail"]
    assert await n_events(epool) == before  # the preview wrote nothing
    refused(await nominate(client, pid, tid, region), status, code)  # the nomination agrees
    assert await n_events(epool) == before


async def test_the_figures_of_a_bar_and_a_closed_window(epool, as_role, county, hostc, host):
    pid, tid, client, region = await scenario(epool, as_role, county, hostc, host, "barred")
    bar = verdict(await judged(client, pid, tid, region), "bar")
    assert bar["facts"]["until_year"] == 2026 and "2026" in bar["detail"]  # the three years after 2023
    opened = seed.SEED_TODAY - timedelta(days=21)
    late = await seed_project(epool, host, opened_on=opened.isoformat())
    window = verdict(await judged(county, late, await seed_teacher(epool)), "window")
    assert window["facts"] == {"opened_on": opened.isoformat(), "closes_on": (opened + timedelta(days=20)).isoformat(),
                               "days": 20}


@pytest.fixture
def clock(enrollment_app):
    with seed.pinned_day(enrollment_app, date(2026, 3, 1)) as now:
        yield now


async def test_a_substitute_for_a_no_show_is_previewed_on_the_vacancy_as_the_nomination_decides(epool, county,
                                                                                                hostc, host, clock):
    pid = await seed_project(epool, host, opened_on="2026-03-01", quotas={COUNTY: 1})
    absent, sub = await enrolled(county, pid, await seed_teacher(epool)), await seed_teacher(epool)
    await advance(epool, pid, "started")
    clock["today"] = date(2026, 3, 26)  # day 25: past the 20-day window
    as_substitute = {"teacher_id": sub, "region_code": COUNTY, "substitute_for": absent}
    url = f"/v1/projects/{pid}/eligibility"
    early = (await county.get(url, params=as_substitute)).json()
    assert (early["refusal"], verdict(early, "vacancy")["facts"]) == ("not_a_vacancy", {"substitute_for": absent})
    assert (await hostc.post(f"/v1/enrollments/{absent}/no-show", json={"special_reason": False})).status_code == 200
    before = await n_events(epool)
    body = (await county.get(url, params=as_substitute)).json()
    assert (body["eligible"], body["refusal"]) == (True, None)
    assert verdict(body, "window")["ok"] and verdict(body, "places_left")["facts"]["left"] == 0
    plain = await judged(county, pid, sub)  # the same teacher as an ordinary nomination
    assert [v["code"] for v in plain["verdicts"] if not v["ok"]] == ["project_not_open", "window_closed",
                                                                      "quota_exhausted"]
    roster = (await county.get(f"{url}/roster", params={"region_code": COUNTY, "substitute_for": absent,
                                                       "limit": 200})).json()
    assert next(e for e in roster["items"] if e["teacher_id"] == sub)["verdicts"] == body["verdicts"]
    assert await n_events(epool) == before
    assert (await county.post(f"/v1/projects/{pid}/nominations", json=as_substitute)).status_code == 201
    again = await judged(county, pid, await seed_teacher(epool))
    assert again["refusal"] == "project_not_open"
    filled = (await county.get(url, params={**as_substitute, "teacher_id": await seed_teacher(epool)})).json()
    assert filled["refusal"] == "vacancy_filled"
    refused(await county.get(url, params={**as_substitute, "substitute_for": "x"}), 422, "validation_error")


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"region_code": COUNTY}, 422, "validation_error"),
    ({"teacher_id": "not-a-uuid", "region_code": COUNTY}, 422, "validation_error"),
    ({"teacher_id": "{tid}"}, 422, "validation_error"),
    ({"teacher_id": "{tid}", "region_code": "61-02"}, 422, "validation_error"),
    ({"teacher_id": "{tid}", "region_code": "6" * 33}, 422, "validation_error"),
    ({"teacher_id": str(uuid.uuid4()), "region_code": COUNTY}, 404, "teacher_not_found"),
])
async def test_bad_input_is_a_problem_and_writes_nothing(epool, county, host, params, status, code):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    before = await n_events(epool)
    params = {k: v.replace("{tid}", tid) for k, v in params.items()}
    refused(await county.get(f"/v1/projects/{pid}/eligibility", params=params), status, code)
    refused(await preview(county, str(uuid.uuid4()), tid), 404, "project_not_found")
    refused(await county.get("/v1/projects/not-a-uuid/eligibility", params={"teacher_id": tid,
                                                                             "region_code": COUNTY}),
            422, "validation_error")
    assert await n_events(epool) == before


async def test_other_roles_other_regions_and_teachers_beyond_the_callers_reach_are_403(epool, as_role, county,
                                                                                       hostc, host):
    pid, tid, outsider = await seed_project(epool, host), await seed_teacher(epool), await seed_teacher(epool, SCHOOL2)
    before = await n_events(epool)
    for client in (hostc, teacher(as_role, tid), as_role("school_admin", "610102001"), as_role("auditor", CITY),
                   as_role("service")):
        refused(await preview(client, pid, tid), 403, "forbidden_role")
    refused(await preview(as_role("county_admin", COUNTY2), pid, tid), 403, "out_of_scope")  # not its region
    # A teacher of another county: its record is not this county's to see ...
    refused(await preview(county, pid, outsider), 403, "out_of_scope")
    # ... while the city over both sees it, and that the teacher is not in the region.
    body = await judged(as_role("city_admin", CITY), pid, outsider)
    assert body["refusal"] == "teacher_not_in_region" and body["school_code"] == SCHOOL2
    assert (await preview(as_role(None), pid, tid)).status_code == 401
    assert await n_events(epool) == before


# A page of the roster ------------------------------------------------------------------------

REGION, R_SCHOOL, R_ODD_SCHOOL = "610104", "610104001", "S104X"  # a school whose code is no GB/T 2260 prefix


async def region_with_teachers(epool, host) -> tuple[list[str], dict[str, str]]:
    if not await epool.fetchval("SELECT true FROM orgs WHERE code = $1", REGION):
        for code, kind, parent in ((REGION, "county", CITY), (R_SCHOOL, "school", REGION),
                                   (R_ODD_SCHOOL, "school", REGION)):
            await given(epool, f"org-{code}", ("OrgRegistered", {"code": code, "name": code, "kind": kind,
                                                                 "parent_code": parent}))
    ids = [await seed_teacher(epool, R_SCHOOL) for _ in range(3)] + [await seed_teacher(epool, R_ODD_SCHOOL)
                                                                     for _ in range(2)]
    return ids, {t: (R_SCHOOL if i < 3 else R_ODD_SCHOOL) for i, t in enumerate(ids)}


async def test_a_roster_page_by_page_each_teacher_judged_as_alone_and_nothing_written(epool, as_role, host):
    ids, schools = await region_with_teachers(epool, host)
    rcounty, rhost = as_role("county_admin", REGION), as_role("host", host)
    pid = await seed_project(epool, host, quotas={REGION: 5}, year=2024)
    await enrolled(rcounty, pid, ids[0], REGION)
    missed = await seed_project(epool, host, quotas={REGION: 1}, category="c-missed")  # 2023: barred 2024–2026
    eid = await enrolled(rcounty, missed, ids[1], REGION)
    await advance(epool, missed, "started")
    assert (await rhost.post(f"/v1/enrollments/{eid}/no-show", json={"special_reason": False})).status_code == 200
    await seed_teacher(epool)  # a teacher of another county: not on this roster
    before = await n_events(epool)

    seen, cursor, pages = [], None, 0
    while True:
        params = {"region_code": REGION, "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await rcounty.get(f"/v1/projects/{pid}/eligibility/roster", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert (page["project_id"], page["region_code"], page["policy"]) == (pid, REGION, "default")
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and [e["teacher_id"] for e in seen] == sorted(ids)
    by_id = {e["teacher_id"]: e for e in seen}
    assert {t: e["school_code"] for t, e in by_id.items()} == schools
    assert [v["code"] for v in by_id[ids[0]]["verdicts"] if not v["ok"]] == ["national_limit", "already_nominated"]
    assert by_id[ids[1]]["refusal"] == "barred"
    assert [v["code"] for v in by_id[ids[1]]["verdicts"] if not v["ok"]] == ["barred"]
    assert verdict(by_id[ids[1]], "bar")["facts"]["until_year"] == 2026
    assert all(by_id[t]["eligible"] for t in ids[2:])
    assert all(verdict(e, "places_left")["facts"] == {"places": 5, "used": 1, "left": 4} for e in seen)
    # Each roster entry is what the one-teacher preview says of that teacher.
    for t in ids:
        alone = await judged(rcounty, pid, t, REGION)
        assert by_id[t]["verdicts"] == alone["verdicts"] and by_id[t]["eligible"] == alone["eligible"]
    assert await n_events(epool) == before


@pytest.mark.parametrize(("params", "status", "code"), [
    ({}, 422, "validation_error"),
    ({"region_code": REGION, "limit": 0}, 422, "validation_error"),
    ({"region_code": REGION, "limit": 201}, 422, "validation_error"),
    ({"region_code": REGION, "cursor": "%%%"}, 422, "bad_cursor"),
    ({"region_code": REGION, "cursor": page_cursor("not-a-uuid")}, 422, "bad_cursor"),
])
async def test_roster_bad_input_is_a_problem(epool, as_role, host, params, status, code):
    await region_with_teachers(epool, host)
    pid = await seed_project(epool, host, quotas={REGION: 5})
    before = await n_events(epool)
    refused(await as_role("county_admin", REGION).get(f"/v1/projects/{pid}/eligibility/roster", params=params),
            status, code)
    assert await n_events(epool) == before


async def test_roster_unknown_project_or_region_other_roles_and_regions(epool, as_role, county, hostc, host):
    await region_with_teachers(epool, host)
    pid = await seed_project(epool, host, quotas={REGION: 5})
    url, q = f"/v1/projects/{pid}/eligibility/roster", {"region_code": REGION}
    before = await n_events(epool)
    refused(await as_role("county_admin", REGION).get(f"/v1/projects/{uuid.uuid4()}/eligibility/roster", params=q),
            404, "project_not_found")
    refused(await as_role("city_admin", CITY).get(url, params={"region_code": "610199"}), 404, "region_not_found")
    refused(await county.get(url, params=q), 403, "out_of_scope")  # a sibling county's roster
    for client in (hostc, teacher(as_role, str(uuid.uuid4())), as_role("school_admin", R_SCHOOL),
                   as_role("auditor", CITY), as_role("service")):
        refused(await client.get(url, params=q), 403, "forbidden_role")
    page = (await as_role("province_admin", "610000").get(url, params=q)).json()
    assert len(page["items"]) >= 5 and not any(e["refusal"] == "teacher_not_in_region" for e in page["items"])
    assert await n_events(epool) == before
