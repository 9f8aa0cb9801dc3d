"""A city's split of its places to its counties (004 §2.2, QuotaSplit) in the figures, on given
events: each county's selection rate is judged on its own sub-quota, the city's on what it kept,
and a parent's quota counts every place once."""

from __future__ import annotations

import uuid

import pytest

from tests.reporting.given import Given, ok

PROVINCE, CITY, COUNTY, COUNTY2 = "610000", "610100", "610102", "610103"


@pytest.fixture(scope="module")
async def world(rpool):
    given = Given(rpool)
    for code, kind, parent in ((PROVINCE, "province", None), (CITY, "city", PROVINCE), (COUNTY, "county", CITY),
                               (COUNTY2, "county", CITY)):
        await given(f"org-{code}", ("OrgRegistered", {"code": code, "name": f"机构{code}", "kind": kind,
                                                      "parent_code": parent}))
    pid = str(uuid.uuid4())
    # Given the province gives the city 10 places; the city gives 610102 4 (then 3) and 610103 5.
    await given(f"project-{pid}", ("ProjectDrafted", {
        "project_id": pid, "code": "SPLIT-1", "name": "省级骨干教师培训", "level": "provincial", "category": "骨干",
        "year": 2025, "host_id": str(uuid.uuid4()), "organizer_code": PROVINCE, "hours": 30,
        "hour_category": "online", "starts_on": "2025-05-06", "ends_on": "2025-05-10", "cross_year": False,
        "practical_ratio": 0.5, "modules": []}),
        ("QuotaAllocated", {"project_id": pid, "region_code": CITY, "places": 10}),
        *(("QuotaSplit", {"project_id": pid, "city_code": CITY, "region_code": county, "places": n})
          for county, n in ((COUNTY, 4), (COUNTY2, 5), (COUNTY, 3))))
    # 610102 nominates 3, the city 1 directly, 610103 none.
    for region, n in ((COUNTY, 3), (CITY, 1)):
        for _ in range(n):
            eid = str(uuid.uuid4())
            await given(f"enrollment-{eid}", ("TeacherNominated", {
                "enrollment_id": eid, "project_id": pid, "teacher_id": str(uuid.uuid4()), "region_code": region,
                "level": "provincial", "category": "骨干", "year": 2025, "nominated_on": "2025-04-20"}))
    return pid


async def total(as_role, who: tuple[str, str], region: str) -> tuple:
    doc = await ok(await as_role(*who).get("/v1/reports/rates", params={"year": 2025, "region_code": region}))
    t = doc["total"]
    return t["quota"], t["nominated"], t["selection_rate"]


async def test_each_county_is_judged_on_its_sub_quota_and_places_count_once(world, as_role):
    province = ("province_admin", PROVINCE)
    assert await total(as_role, province, PROVINCE) == (10, 4, "0.4000")
    assert await total(as_role, ("city_admin", CITY), CITY) == (10, 4, "0.4000")  # 2 kept + 3 + 5
    assert await total(as_role, ("county_admin", COUNTY), COUNTY) == (3, 3, "1.0000")
    assert await total(as_role, province, COUNTY2) == (5, 0, "0.0000")
