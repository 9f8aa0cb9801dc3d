"""Category mapping, the short-of-hours list, its exports and its reminders over HTTP on the real
credits app (PostgreSQL + NATS): enrollment's completions go through the real intake (the award
maps the project hour category), our own HoursAwarded reach `teacher_years` through the real
compliance consumer over NATS, and every refusal writes nothing.

Jiangxi 360000 here splits its 60 annual hours (001 §2.3) into 公需 20 and 专业 30 minimums and
maps the project hour categories centralized → professional, online → public (issue 15).
Judged on 2024-06-01: school year 2023, the first year of the 2023–2027 cycle (due: 60 of 300).
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date

import pytest
from openpyxl import load_workbook

from tests.conftest import eventually
from tests.credits.given import completed, given_enrollment, jiangxi_tree, ok, teacher

PROVINCE, CITY, COUNTY, SCHOOL = "360000", "360100", "360102", "360102001"
OTHER_COUNTY_SCHOOL, OTHER_CITY_SCHOOL = "360103001", "360202001"
TODAY = date(2024, 6, 1)
POLICY = {"effective_from": "2018-02-06", "cycle_years": 5, "cycle_start_year": 2018, "hours_per_credit": 20,
          "annual_hours": 60, "cycle_hours": 300,
          "categories": [{"code": "public", "name": "公需科目", "min_hours": 20},
                         {"code": "professional", "name": "专业科目", "min_hours": 30}],
          "category_map": {"centralized": "professional", "online": "public"}}
PROBLEM = "application/problem+json"


async def count(pool, sql: str, *args) -> int:
    return await pool.fetchval(sql, *args)


async def reminders(pool) -> int:
    return await count(pool, "SELECT count(*) FROM events WHERE type = 'TeacherShortOfHours'")


@pytest.fixture(scope="module")
async def world(credits_app, as_role, clock):
    await given_enrollment(credits_app, *jiangxi_tree())
    clock["today"] = date(2018, 2, 6)
    await ok(await as_role("province_admin", PROVINCE).put(f"/v1/policies/{PROVINCE}", json=POLICY), 201)
    clock["today"] = TODAY
    ids: dict[str, str] = {}

    async def new(name: str, school: str, *awards: tuple[float, str, str]) -> None:
        t = teacher(school)
        ids[name] = t.data["teacher_id"]
        await given_enrollment(credits_app, t, *(completed(ids[name], h, on, school[:6], cat) for h, on, cat in awards))

    # Enough hours in total (70 ≥ 60) and professional 70 ≥ 30, but no public hours (0 < 20).
    await new("short_public", SCHOOL, (70, "2023-10-10", "centralized"))
    await new("meets", SCHOOL, (40, "2023-10-10", "centralized"), (20, "2023-11-20", "online"))
    await new("nothing", SCHOOL)
    # Unmapped hour category: counts toward the annual target, toward no category minimum.
    await new("blended", OTHER_COUNTY_SCHOOL, (60, "2023-10-10", "blended"))
    await new("elsewhere", OTHER_CITY_SCHOOL)
    # Every award has reached teacher_years (the compliance consumer follows our stream over NATS).
    awarded = await count(credits_app.state.pool, "SELECT count(*) FROM events WHERE type = 'HoursAwarded'")
    assert awarded == 4

    async def caught_up() -> bool:
        n = await count(credits_app.state.pool, "SELECT count(*) FROM teacher_years WHERE school_year = 2023")
        return n == 3

    await eventually(caught_up, message="teacher_years caught up with the awards")
    return ids


async def test_the_award_counts_in_the_mapped_category_and_names_the_policy_version(world, cpool):
    rows = await cpool.fetch("SELECT data FROM events WHERE type = 'HoursAwarded' AND data->>'teacher_id' = $1",
                             world["meets"])
    got = sorted((r["data"]["hour_category"], r["data"]["category"], r["data"]["policy_version"]) for r in rows)
    assert got == [("centralized", "professional", 1), ("online", "public", 1)]
    [unmapped] = await cpool.fetch("SELECT data FROM events WHERE type = 'HoursAwarded' AND data->>'teacher_id' = $1",
                                   world["blended"])
    assert (unmapped["data"]["category"], unmapped["data"]["hour_category"]) == ("blended", "blended")


async def test_enough_hours_but_short_in_one_mapped_category_is_non_compliant_and_listed(world, as_role):
    """Acceptance 5 of issue 15."""
    county = as_role("county_admin", COUNTY)
    doc = await ok(await county.get(f"/v1/teachers/{world['short_public']}/transcript"))
    [year] = [y for y in doc["years"] if y["school_year"] == 2023]
    assert (year["hours"], year["target"], year["met"]) == (70, 60, False)
    cats = {c["category"]: (c["hours"], c["min_hours"], c["met"]) for c in year["categories"]}
    assert cats == {"public": (0, 20, False), "professional": (70, 30, True)}
    assert doc["compliance"]["annual"] == {"school_year": 2023, "target": 60, "met": False}
    listed = await ok(await county.get("/v1/orgs/360102/short-of-hours?year=2023"))
    [item] = [i for i in listed["items"] if i["teacher_id"] == world["short_public"]]
    assert item["shortfalls"] == [{"target": "category", "category": "public", "category_name": "公需科目",
                                   "required_hours": 20, "hours": 0, "short_hours": 20}]
    assert item["school_code"] == SCHOOL and item["policy"] == {
        "jurisdiction_code": PROVINCE, "version": 1, "effective_from": "2018-02-06"}
    # The compliance roll-up judges the same way: of the school's three, only "meets" meets.
    compliance = await ok(await county.get("/v1/orgs/360102/compliance?year=2023"))
    assert (compliance["teachers"], compliance["meeting"]) == (3, 1)


async def test_the_list_is_the_short_teachers_of_the_subtree_with_every_shortfall(world, as_role):
    city = await ok(await as_role("city_admin", CITY).get("/v1/orgs/360100/short-of-hours?year=2023"))
    by_id = {i["teacher_id"]: i["shortfalls"] for i in city["items"]}
    assert set(by_id) == {world["short_public"], world["nothing"], world["blended"]}  # not "meets", not elsewhere
    assert [(f["target"], f["category"], f["required_hours"], f["hours"], f["short_hours"])
            for f in by_id[world["nothing"]]] == [
        ("annual", None, 60, 0, 60), ("cycle", None, 60, 0, 60), ("category", "professional", 30, 0, 30),
        ("category", "public", 20, 0, 20)]
    assert [(f["target"], f["category"]) for f in by_id[world["blended"]]] == [
        ("category", "professional"), ("category", "public")]
    assert (city["year"], city["label"], city["judged_on"], city["next_cursor"]) == (
        2023, "2023学年", "2024-06-01", None)


async def test_paging_by_cursor_visits_every_short_teacher_once(world, as_role):
    province = as_role("auditor", PROVINCE)
    seen, cursor = [], None
    while True:
        page = await ok(await province.get("/v1/orgs/360000/short-of-hours", params={
            "year": 2023, "limit": 1, **({"cursor": cursor} if cursor else {})}))
        seen += [i["teacher_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([world["short_public"], world["nothing"], world["blended"], world["elsewhere"]])
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(("role", "org", "path", "status", "code"), [
    ("teacher", None, "/v1/orgs/360102/short-of-hours?year=2023", 403, "forbidden_role"),
    ("host", "h-1", "/v1/orgs/360102/short-of-hours?year=2023", 403, "forbidden_role"),
    ("county_admin", "360103", "/v1/orgs/360102/short-of-hours?year=2023", 403, "out_of_scope"),
    ("school_admin", SCHOOL, "/v1/orgs/360102/short-of-hours?year=2023", 403, "out_of_scope"),
    ("county_admin", "360103", "/v1/orgs/360102/short-of-hours.csv?year=2023", 403, "out_of_scope"),
    ("teacher", None, "/v1/orgs/360102/short-of-hours.xlsx?year=2023", 403, "forbidden_role"),
    ("county_admin", COUNTY, "/v1/orgs/360102/short-of-hours", 422, "validation_error"),
    ("county_admin", COUNTY, "/v1/orgs/360102/short-of-hours?year=1999", 422, "validation_error"),
    ("county_admin", COUNTY, "/v1/orgs/360102/short-of-hours?year=abc", 422, "validation_error"),
    ("county_admin", COUNTY, "/v1/orgs/360102/short-of-hours?year=2023&limit=0", 422, "validation_error"),
    ("county_admin", COUNTY, "/v1/orgs/360102/short-of-hours?year=2023&cursor=%%%", 422, "bad_cursor"),
    ("county_admin", COUNTY, "/v1/orgs/360102/short-of-hours?year=2023&cursor=YQ", 422, "bad_cursor"),
    ("county_admin", COUNTY, "/v1/orgs/3601x2/short-of-hours?year=2023", 422, "validation_error"),
    ("county_admin", COUNTY, "/v1/orgs/360102/short-of-hours.csv?year=2101", 422, "validation_error"),
])
async def test_list_refusals_are_problems(world, as_role, role, org, path, status, code):
    resp = await as_role(role, org, sub=str(uuid.uuid4())).get(path)
    assert (resp.status_code, resp.headers["content-type"], resp.json()["code"]) == (status, PROBLEM, code)


@pytest.mark.parametrize("role", ["province_admin", "city_admin", "county_admin", "auditor", "service"])
async def test_who_reads_the_list(world, as_role, role):
    org = {"province_admin": PROVINCE, "city_admin": CITY, "auditor": CITY, "service": None}.get(role, COUNTY)
    doc = await ok(await as_role(role, org).get("/v1/orgs/360102/short-of-hours?year=2023"))
    assert {i["teacher_id"] for i in doc["items"]} == {world["short_public"], world["nothing"]}
    school = await ok(await as_role("school_admin", SCHOOL).get(f"/v1/orgs/{SCHOOL}/short-of-hours?year=2023"))
    assert len(school["items"]) == 2


async def test_csv_and_xlsx_exports_have_chinese_headers_and_one_row_per_shortfall(world, as_role):
    county = as_role("county_admin", COUNTY)
    resp = await county.get("/v1/orgs/360102/short-of-hours.csv?year=2023")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "short-of-hours-360102-2023.csv" in resp.headers["content-disposition"]
    assert resp.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0] == ["教师编号", "学校代码", "学年", "未达目标", "学时类别", "应完成学时", "已完成学时", "差额学时",
                       "政策辖区", "政策版本"]
    mine = [r for r in rows[1:] if r[0] == world["short_public"]]
    assert mine == [[world["short_public"], SCHOOL, "2023学年", "类别学时", "公需科目(public)", "20", "0", "20",
                     PROVINCE, "1"]]
    assert len([r for r in rows[1:] if r[0] == world["nothing"]]) == 4
    resp = await county.get("/v1/orgs/360102/short-of-hours.xlsx?year=2023")
    assert resp.status_code == 200 and "spreadsheetml" in resp.headers["content-type"]
    book = load_workbook(io.BytesIO(resp.content))
    sheet = book["学时不足教师"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:4] == ("教师编号", "学校代码", "学年", "未达目标")
    assert (world["short_public"], SCHOOL, "2023学年", "类别学时", "公需科目(public)", 20, 0, 20, PROVINCE, 1) in values
    assert len(values) == 1 + 5 and "说明" in book.sheetnames


async def test_reminders_publish_once_per_org_year_and_teacher(world, as_role, cpool, clock):
    county = as_role("county_admin", COUNTY)
    before = await reminders(cpool)
    first = await ok(await county.post("/v1/reminders/short-of-hours", json={"org_code": COUNTY, "year": 2023}), 201)
    assert (first["short"], first["published"], first["already_reminded"]) == (2, 2, 0)
    assert set(first["teacher_ids"]) == {world["short_public"], world["nothing"]}
    rows = await cpool.fetch("SELECT stream_id, data FROM events WHERE type = 'TeacherShortOfHours' "
                             "AND data->>'org_code' = $1", COUNTY)
    by_teacher = {r["data"]["teacher_id"]: r for r in rows}
    event = by_teacher[world["short_public"]]
    assert event["stream_id"] == f"reminder-{COUNTY}-2023-{world['short_public']}"
    # The internal id, the year, the shortfalls, the policy used: nothing personal.
    assert set(event["data"]) == {"teacher_id", "school_year", "org_code", "school_code", "shortfalls", "policy",
                                  "judged_on"}
    assert event["data"]["shortfalls"] == [{"target": "category", "category": "public", "category_name": "公需科目",
                                            "required_hours": 20, "hours": 0, "short_hours": 20}]
    assert event["data"]["policy"] == {"jurisdiction_code": PROVINCE, "version": 1, "effective_from": "2018-02-06"}
    # A retry (no key) publishes nothing twice; the city reminds the same teachers once for itself.
    again = await ok(await county.post("/v1/reminders/short-of-hours", json={"org_code": COUNTY, "year": 2023}))
    assert (again["published"], again["already_reminded"], again["teacher_ids"]) == (0, 2, [])
    city = await ok(await as_role("city_admin", CITY).post("/v1/reminders/short-of-hours",
                                                           json={"org_code": CITY, "year": 2023}), 201)
    assert city["published"] == 3
    assert await reminders(cpool) == before + 5
    # An Idempotency-Key replays the first answer.
    key = {"Idempotency-Key": f"remind-{uuid.uuid4()}"}
    body = {"org_code": "360103", "year": 2023}
    r1 = await as_role("county_admin", "360103").post("/v1/reminders/short-of-hours", json=body, headers=key)
    r2 = await as_role("county_admin", "360103").post("/v1/reminders/short-of-hours", json=body, headers=key)
    assert (r1.status_code, r2.status_code, r1.json(), r2.headers.get("idempotent-replayed")) == (
        201, 201, r2.json(), "true")
    assert await reminders(cpool) == before + 6


@pytest.mark.parametrize(("role", "org", "payload", "status", "code"), [
    ("teacher", None, {"org_code": COUNTY, "year": 2023}, 403, "forbidden_role"),
    ("host", "h-1", {"org_code": COUNTY, "year": 2023}, 403, "forbidden_role"),
    ("school_admin", SCHOOL, {"org_code": SCHOOL, "year": 2023}, 403, "forbidden_role"),
    ("auditor", CITY, {"org_code": COUNTY, "year": 2023}, 403, "forbidden_role"),
    ("service", None, {"org_code": COUNTY, "year": 2023}, 403, "forbidden_role"),
    ("county_admin", "360103", {"org_code": COUNTY, "year": 2023}, 403, "out_of_scope"),
    ("city_admin", "360200", {"org_code": CITY, "year": 2023}, 403, "out_of_scope"),
    ("province_admin", PROVINCE, {"org_code": "360999", "year": 2023}, 404, "org_not_found"),
    ("province_admin", PROVINCE, {"org_code": PROVINCE, "year": 2024}, 422, "period_not_started"),
    ("province_admin", PROVINCE, {"org_code": PROVINCE, "year": 1999}, 422, "validation_error"),
    ("province_admin", PROVINCE, {"org_code": "36x000", "year": 2023}, 422, "validation_error"),
    ("province_admin", PROVINCE, {"org_code": PROVINCE}, 422, "validation_error"),
    ("province_admin", PROVINCE, {"org_code": PROVINCE, "year": 2023, "names": True}, 422, "validation_error"),
    ("province_admin", PROVINCE, "not json", 422, "validation_error"),
])
async def test_reminder_refusals_write_nothing(world, as_role, cpool, role, org, payload, status, code):
    before = await count(cpool, "SELECT count(*) FROM events")
    client = as_role(role, org, sub=str(uuid.uuid4()))
    if isinstance(payload, str):
        resp = await client.post("/v1/reminders/short-of-hours", content=payload,
                                 headers={"Content-Type": "application/json"})
    else:
        resp = await client.post("/v1/reminders/short-of-hours", json=payload)
    assert (resp.status_code, resp.headers["content-type"], resp.json()["code"]) == (status, PROBLEM, code)
    assert await count(cpool, "SELECT count(*) FROM events") == before


async def test_policy_category_map_is_validated_and_a_refusal_writes_nothing(world, as_role, cpool, clock):
    county = as_role("county_admin", COUNTY)
    before = await count(cpool, "SELECT count(*) FROM events WHERE stream_id = 'policy-360102'")
    bad = {**POLICY, "effective_from": "2024-09-01", "category_map": {"centralized": "elective"}}
    resp = await county.put("/v1/policies/360102", json=bad)
    assert (resp.status_code, resp.headers["content-type"], resp.json()["code"]) == (
        422, PROBLEM, "category_map_unknown_category")
    for wrong in ({"centralized": 3}, {"x" * 33: "public"}, {"": "public"}, ["centralized", "public"]):
        resp = await county.put("/v1/policies/360102", json={**POLICY, "category_map": wrong})
        assert (resp.status_code, resp.json()["code"]) == (422, "validation_error"), wrong
    resp = await as_role("county_admin", "360103").put("/v1/policies/360102", json=POLICY)
    assert (resp.status_code, resp.json()["code"]) == (403, "out_of_scope")
    resp = await as_role("school_admin", SCHOOL).put("/v1/policies/360102", json=POLICY)
    assert (resp.status_code, resp.json()["code"]) == (403, "forbidden_role")
    assert await count(cpool, "SELECT count(*) FROM events WHERE stream_id = 'policy-360102'") == before
    # A county's own version with its own map; the map's key order does not make a new version.
    mine = {**POLICY, "effective_from": "2024-09-01", "category_map": {"online": "public", "workshop": "public",
                                                                        "centralized": "professional"}}
    created = await ok(await county.put("/v1/policies/360102", json=mine), 201)
    assert created["category_map"] == {"centralized": "professional", "online": "public", "workshop": "public"}
    reordered = {**mine, "category_map": dict(reversed(list(mine["category_map"].items())))}
    await ok(await county.put("/v1/policies/360102", json=reordered), 200)
    assert await count(cpool, "SELECT count(*) FROM events WHERE stream_id = 'policy-360102'") == before + 1
    got = await ok(await as_role("teacher", sub=world["short_public"]).get(f"/v1/policies/{SCHOOL}?as_of=2024-09-01"))
    assert got["category_map"]["workshop"] == "public" and got["jurisdiction_code"] == COUNTY


async def test_concurrent_reminder_runs_publish_each_teacher_once(world, as_role, cpool):
    """Runs for one org and year queue on one lock: each later run sees the first's reminders
    (without the lock, overlapping runs race to the same streams and one answers 409)."""
    import asyncio

    province = as_role("province_admin", PROVINCE)
    before = await reminders(cpool)
    runs = await asyncio.gather(*(province.post("/v1/reminders/short-of-hours", json={
        "org_code": PROVINCE, "year": 2022}) for _ in range(4)))
    assert sorted(r.status_code for r in runs) == [200, 200, 200, 201], [r.text for r in runs]
    published = sum(r.json()["published"] for r in runs)
    assert published == 5 == await reminders(cpool) - before  # every teacher has nothing in 2022
