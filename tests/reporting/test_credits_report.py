"""Credit compliance carried from the credits stream (services/credits/events.py contracts):
Jiangxi's 60 hours a year (001 §2.3), Jiyuan's 360 hours over 5 years with a workshop minimum
(003 §4.3), a school under no policy; awards, approved claims and revocations; hire dates."""

from __future__ import annotations

import uuid

import pytest

from tests.reporting.given import Given, ok, refused

ORGS = [("360000", "江西省", "province", None), ("360100", "南昌市", "city", "360000"),
        ("360102", "东湖区", "county", "360100"), ("360102001", "东湖一中", "school", "360102"),
        ("360102002", "东湖二中", "school", "360102"), ("410000", "河南省", "province", None),
        ("419001", "济源市", "county", "410000"), ("419001001", "济源一中", "school", "419001"),
        ("330000", "浙江省", "province", None), ("330100", "杭州市", "city", "330000"),
        ("330106", "西湖区", "county", "330100"), ("330106001", "西湖一中", "school", "330106")]
# teacher → (school, hired_on, [(event, hours, category)])
TEACHERS = {
    "A": ("360102001", "2010-09-01", [("HoursAwarded", 60, "centralized")]),
    "B": ("360102001", "2010-09-01", [("HoursAwarded", 59.9, "centralized")]),
    "C": ("360102002", "2010-09-01", [("HoursAwarded", 50, "centralized"), ("ClaimApproved", 10, "workshop")]),
    "D": ("360102002", "2024-09-01", [("HoursAwarded", 60, "centralized")]),  # hired after 2023学年: not counted
    "E": ("360102002", "2010-09-01", [("HoursAwarded", 70, "online"), ("EntryRevoked", 70, "online")]),
    "F": ("419001001", "2010-09-01", [("HoursAwarded", 72, "centralized")]),  # no workshop hours
    "G": ("419001001", "2010-09-01", [("HoursAwarded", 62, "centralized"), ("HoursAwarded", 10, "workshop")]),
    "H": ("330106001", "2010-09-01", [("HoursAwarded", 90, "centralized")]),  # no policy up its tree
}


def policy(code: str, **values) -> dict:
    return {"jurisdiction_code": code, "effective_from": "2019-01-01", "hours_per_credit": 20, "annual_hours": None,
            "cycle_years": 5, "cycle_start_year": 2021, "cycle_hours": None, "induction_hours": None,
            "induction_years": 1, "categories": [], "school_year_start": "09-01", "credit_decimals": 1,
            "published_on": "2019-01-01", **values}


@pytest.fixture(scope="module")
async def world(rpool):
    enrollment, credits = Given(rpool), Given(rpool, source="/credits")
    for code, name, kind, parent in ORGS:
        await enrollment(f"org-{code}", ("OrgRegistered", {"code": code, "name": name, "kind": kind,
                                                           "parent_code": parent}))
    await credits("policy-360000", ("PolicyPublished", policy("360000", annual_hours=60)))
    await credits("policy-419001", ("PolicyPublished", policy("419001", cycle_hours=360, categories=[
        {"code": "workshop", "name": "工作坊研修", "min_hours": 10}])))
    for school, hired_on, entries in TEACHERS.values():
        tid = str(uuid.uuid4())
        await enrollment(f"teacher-{tid}", ("TeacherRegistered", {
            "teacher_id": tid, "school_code": school, "subject": "数学", "stage": "初中", "title": "一级教师",
            "hired_on": hired_on}))
        for type_, hours, category in entries:
            entry = str(uuid.uuid4())
            await credits(f"award-{entry}", (type_, {
                "entry_id": entry, "teacher_id": tid, "hours": hours, "category": category, "school_year": 2023,
                "org_code": school, "earned_on": "2023-12-01", "recorded_on": "2023-12-01"}))


async def test_teachers_meeting_the_annual_target_per_region(world, as_role):
    doc = await ok(await as_role("service").get("/v1/reports/credits", params={"year": 2023}))
    # A and C (50 + 10 claimed) meet Jiangxi's 60; B has 59.9; E's hours were revoked; D is not yet hired.
    # G meets Jiyuan's 72 with its 10 workshop hours, F lacks them. H's school has no policy at all.
    assert {i["region_code"]: (i["teachers"], i["meeting"], i["without_policy"], i["hours"], i["share"])
            for i in doc["items"]} == {"330000": (1, 0, 1, "90.0", "0.0000"), "360000": (4, 2, 0, "179.9", "0.5000"),
                                       "410000": (2, 1, 0, "144.0", "0.5000")}
    # 3 of 7: 0.428571… shown rounded down, as the credits service shows it.
    assert (doc["total"]["teachers"], doc["total"]["meeting"], doc["total"]["share"]) == (7, 3, "0.4285")


async def test_a_county_sees_its_schools_and_no_one_elses(world, as_role):
    county = await ok(await as_role("county_admin", "360102").get("/v1/reports/credits", params={"year": 2023}))
    assert [(i["region_code"], i["teachers"], i["meeting"], i["with_hours"]) for i in county["items"]] == [
        ("360102001", 2, 1, 2), ("360102002", 2, 1, 1)]
    empty = await ok(await as_role("county_admin", "360102").get("/v1/reports/credits", params={"year": 2031}))
    assert (empty["total"]["teachers"], empty["total"]["meeting"]) == (5, 0)  # D hired by then; no hours
    refused(await as_role("county_admin", "360102").get("/v1/reports/credits", params={
        "year": 2023, "region_code": "419001"}), 403, "out_of_scope")
    refused(await as_role("host", str(uuid.uuid4())).get("/v1/reports/credits", params={"year": 2023}), 403,
            "forbidden_role")
