"""The per-school verdicts credits publishes for other services (GET /v1/compliance/schools):
the figures, who sees which schools, paging, and a policy change moving the verdict — each
verdict naming the policy version it was judged by."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from tests.conftest import eventually
from tests.credits.given import completed, given_enrollment, jiangxi_tree, ok, org, teacher
from tests.credits.seeds import JIANGXI_2018, body

URL = "/v1/compliance/schools?year=2023&as_of=2024-03-01"
JIYUAN_SCHOOL = "419001001"  # Henan publishes no credits policy here: without_policy


def policy(version: int, effective_from: str) -> dict:
    return {"jurisdiction_code": "360000", "version": version, "effective_from": effective_from}


@pytest.fixture(scope="module")
async def world(credits_app, as_role, clock):
    await given_enrollment(credits_app, *jiangxi_tree(), org("410000", "province", None),
                           org("419001", "county", "410000"), org(JIYUAN_SCHOOL, "school", "419001"))
    clock["today"] = date(2018, 2, 6)
    await ok(await as_role("province_admin", "360000").put("/v1/policies/360000", json=body(JIANGXI_2018)), 201)
    clock["today"] = date(2024, 3, 1)
    plan = [("360102001", "2010-09-01", [(60, "2023-10-10")]),  # meets 60
            ("360102001", "2010-09-01", [(40, "2023-11-01"), (19.9, "2024-01-05")]),  # 59.9: short
            ("360102002", "2010-09-01", []),  # nothing yet
            ("360102002", "2024-09-01", [(80, "2023-10-01")]),  # hired after 2023学年: not counted
            ("360103001", None, [(30, "2023-12-01")]),  # no hiring date: counted
            ("360202001", "2015-09-01", [(75, "2024-02-01"), (20, "2023-06-30")]),  # 2022学年 hours do not count
            (JIYUAN_SCHOOL, "2019-09-01", [(10, "2023-10-20")])]
    events = []
    for school, hired, awards in plan:
        t = teacher(school, hired_on=hired)
        events.append(t)
        events += [completed(t.data["teacher_id"], h, on, school[:6]) for h, on in awards]
    await given_enrollment(credits_app, *events)
    service = as_role("service")

    async def counted() -> bool:  # teacher_years follows our stream through its consumer
        doc = (await service.get("/v1/compliance/schools?year=2023&as_of=2024-03-01")).json()
        return sum(i["hours_tenths"] for i in doc.get("items", ())) == 600 + 599 + 300 + 750 + 100

    await eventually(counted, message="compliance consumer caught up")
    return {}


async def test_each_school_with_registered_teachers_has_its_verdict_and_policy_version(world, as_role):
    doc = await ok(await as_role("service").get(URL))
    assert (doc["year"], doc["as_of"], doc["region_code"], doc["next_cursor"]) == (2023, "2024-03-01", None, None)
    got = {i["school_code"]: {k: v for k, v in i.items() if k != "school_code"} for i in doc["items"]}
    jx = policy(1, "2018-02-06")
    assert [i["school_code"] for i in doc["items"]] == ["360102001", "360102002", "360103001", "360202001",
                                                       JIYUAN_SCHOOL]
    assert got == {
        "360102001": {"teachers": 2, "meeting": 1, "without_policy": 0, "with_hours": 2, "hours_tenths": 1199,
                      "policy": jx},
        "360102002": {"teachers": 1, "meeting": 0, "without_policy": 0, "with_hours": 0, "hours_tenths": 0,
                      "policy": jx},
        "360103001": {"teachers": 1, "meeting": 0, "without_policy": 0, "with_hours": 1, "hours_tenths": 300,
                      "policy": jx},
        "360202001": {"teachers": 1, "meeting": 1, "without_policy": 0, "with_hours": 1, "hours_tenths": 750,
                      "policy": jx},
        JIYUAN_SCHOOL: {"teachers": 1, "meeting": 0, "without_policy": 1, "with_hours": 1, "hours_tenths": 100,
                        "policy": None},
    }
    # The org roll-up counts exactly the same way (its as_of is today, 2024-03-01 here).
    county = await ok(await as_role("county_admin", "360102").get("/v1/orgs/360102/compliance?year=2023"))
    assert (county["teachers"], county["meeting"], county["with_hours"], county["hours"]) == (3, 1, 2, 119.9)
    schema = (await as_role(None).get("/openapi.json")).json()["components"]["schemas"]
    assert {"SchoolVerdicts", "SchoolVerdict", "PolicyUsed"} <= set(schema)


@pytest.mark.parametrize(("role", "org_code", "query", "schools"), [
    ("county_admin", "360102", "", ["360102001", "360102002"]),  # their own subtree by default
    ("auditor", "360000", "&region_code=360100", ["360102001", "360102002", "360103001"]),
    ("school_admin", "360102002", "", ["360102002"]),
    ("city_admin", "360200", "&region_code=360202001", ["360202001"]),
    ("service", None, "&region_code=410000", [JIYUAN_SCHOOL]),
])
async def test_readers_see_their_subtree(world, as_role, role, org_code, query, schools):
    doc = await ok(await as_role(role, org_code).get(URL + query))
    assert [i["school_code"] for i in doc["items"]] == schools
    assert doc["region_code"] == (query.removeprefix("&region_code=") or org_code)


@pytest.mark.parametrize(("role", "org_code", "query", "code"), [
    ("county_admin", "360102", "&region_code=360000", "out_of_scope"),
    ("city_admin", "360100", "&region_code=360202001", "out_of_scope"),
    ("teacher", None, "", "forbidden_role"),
    ("host", "00000000-0000-0000-0000-000000000001", "", "forbidden_role"),
])
async def test_others_are_refused(world, as_role, role, org_code, query, code):
    resp = await as_role(role, org_code, sub="00000000-0000-0000-0000-000000000002").get(URL + query)
    assert (resp.status_code, resp.json()["code"]) == (403, code)


async def test_pages_follow_school_codes(world, as_role):
    service = as_role("service")
    whole = (await ok(await service.get(URL)))["items"]
    seen, cursor = [], ""
    while True:
        page = await ok(await service.get(f"{URL}&limit=2{cursor}"))
        assert len(page["items"]) <= 2
        seen += page["items"]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == whole and len(whole) == 5
    bad = await service.get(f"{URL}&cursor=bogus")
    assert (bad.status_code, bad.json()["code"]) == (422, "bad_cursor")
    for query in ("?as_of=2024-03-01", "?year=1999", f"{URL[URL.index('?'):]}&limit=10001"):
        assert (await service.get("/v1/compliance/schools" + query)).status_code == 422


async def test_a_lower_target_published_moves_the_verdict_and_names_the_new_version(world, as_role, clock):
    service = as_role("service")
    before = {i["school_code"]: i for i in (await ok(await service.get(URL)))["items"]}
    assert (before["360102001"]["meeting"], before["360102001"]["policy"]) == (1, policy(1, "2018-02-06"))
    lower = replace(JIANGXI_2018, effective_from=date(2023, 9, 1), annual_hours=Decimal(50), cycle_hours=Decimal(250))
    await ok(await as_role("province_admin", "360000").put("/v1/policies/360000", json=body(lower)), 201)
    after = {i["school_code"]: i for i in (await ok(await service.get(URL)))["items"]}
    assert (after["360102001"]["meeting"], after["360102001"]["policy"]) == (2, policy(2, "2023-09-01"))
    assert (after["360103001"]["meeting"], after["360202001"]["meeting"]) == (0, 1)  # 30 h still short
    # Judged on an earlier day, the year is held to the version in force then.
    earlier = await ok(await service.get("/v1/compliance/schools?year=2023&as_of=2023-08-31"))
    first = earlier["items"][0]
    assert (first["school_code"], first["meeting"], first["policy"]) == ("360102001", 1, policy(1, "2018-02-06"))
