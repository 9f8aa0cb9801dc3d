"""The report API on given events (applied through the projections as a NATS delivery would be):
who may read what, bad input, paging, zero denominators and cancelled projects."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.reporting.given import Given, ok, refused

PROVINCE, CITY, COUNTY, OTHER_CITY, OTHER_COUNTY = "610000", "610100", "610102", "610200", "610202"
HOST, OTHER_HOST = str(uuid.uuid4()), str(uuid.uuid4())


def drafted(pid: str, host: str, code: str, level: str = "provincial") -> dict:
    return {"project_id": pid, "code": code, "name": f"项目{code}", "level": level, "category": "骨干", "year": 2024,
            "host_id": host, "organizer_code": PROVINCE, "hours": 30, "hour_category": "online",
            "starts_on": "2024-05-06", "ends_on": "2024-05-10", "cross_year": False, "practical_ratio": 0.5,
            "modules": []}


@pytest.fixture(scope="module")
async def world(rpool):
    given = Given(rpool)
    for code, kind, parent in ((PROVINCE, "province", None), (CITY, "city", PROVINCE), (COUNTY, "county", CITY),
                               (OTHER_CITY, "city", PROVINCE), (OTHER_COUNTY, "county", OTHER_CITY)):
        await given(f"org-{code}", ("OrgRegistered", {"code": code, "name": f"机构{code}", "kind": kind,
                                                      "parent_code": parent}))
    ids = {k: str(uuid.uuid4()) for k in ("A", "B", "X")}
    # A (HOST): 4 places in COUNTY, 2 nominated, nobody checked in yet. B (OTHER_HOST): 3 places in
    # OTHER_COUNTY, 3 nominated. X: cancelled after its quota was set — counted nowhere.
    for key, host in (("A", HOST), ("B", OTHER_HOST), ("X", HOST)):
        await given(f"project-{ids[key]}", ("ProjectDrafted", drafted(ids[key], host, key)))
    await given(f"project-{ids['A']}", ("QuotaAllocated", {"project_id": ids["A"], "region_code": COUNTY, "places": 4}))
    await given(f"project-{ids['B']}", ("QuotaAllocated", {"project_id": ids["B"], "region_code": OTHER_COUNTY,
                                                          "places": 3}))
    await given(f"project-{ids['X']}", ("QuotaAllocated", {"project_id": ids["X"], "region_code": COUNTY, "places": 9}),
                ("ProjectCancelled", {"project_id": ids["X"], "on": "2024-04-01", "reason": "经费调整"}))
    for key, region, n in (("A", COUNTY, 2), ("B", OTHER_COUNTY, 3)):
        for _ in range(n):
            eid = str(uuid.uuid4())
            await given(f"enrollment-{eid}", ("TeacherNominated", {
                "enrollment_id": eid, "project_id": ids[key], "teacher_id": str(uuid.uuid4()), "region_code": region,
                "level": "provincial", "category": "骨干", "year": 2024, "nominated_on": "2024-04-20"}))
    return ids


async def test_zero_denominators_are_null_in_json_never_nan(world, as_role):
    resp = await as_role("county_admin", COUNTY).get("/v1/reports/rates", params={"year": 2024})
    doc = await ok(resp)
    assert "NaN" not in resp.text and "Infinity" not in resp.text
    assert json.loads(resp.text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}")) == doc
    assert (doc["year"], doc["year_kind"], doc["year_label"]) == (2024, "project_year", "2024年度项目")
    total = doc["total"]
    assert (total["quota"], total["nominated"], total["checked_in"]) == (4, 2, 0)  # X is cancelled: not counted
    assert (total["selection_rate"], total["check_in_rate"], total["completion_rate"],
            total["satisfaction_rate"]) == ("0.5000", "0.0000", None, None)
    empty = await ok(await as_role("county_admin", COUNTY).get("/v1/reports/rates", params={"year": 2031}))
    assert empty["items"] == [] and empty["total"]["selection_rate"] is None and empty["total"]["quota"] == 0


async def test_readers_see_their_subtree_and_hosts_their_own_projects(world, as_role, reporting_app):
    province = await ok(await as_role("province_admin", PROVINCE).get("/v1/reports/rates", params={"year": 2024}))
    assert province["total"]["quota"] == 7 and len(province["items"]) == 2
    city = await ok(await as_role("city_admin", OTHER_CITY).get("/v1/reports/rates", params={"year": 2024}))
    assert [i["key"] for i in city["items"]] == [world["B"]] and city["region_code"] == OTHER_CITY
    host = await ok(await as_role("host", HOST).get("/v1/reports/rates", params={"year": 2024}))
    assert [i["key"] for i in host["items"]] == [world["A"]]
    service = await ok(await as_role("service").get("/v1/reports/rates", params={"year": 2024, "group_by": "host"}))
    assert {i["key"] for i in service["items"]} == {HOST, OTHER_HOST}
    refused(await as_role("city_admin", OTHER_CITY).get("/v1/reports/rates", params={"region_code": COUNTY}), 403,
            "out_of_scope")
    refused(await as_role("city_admin", CITY).get("/v1/reports/regions", params={"parent_code": PROVINCE}), 403,
            "out_of_scope")
    refused(await as_role("teacher", sub=str(uuid.uuid4())).get("/v1/reports/rates"), 403, "forbidden_role")
    refused(await as_role("county_admin", COUNTY).get(f"/v1/reports/projects/{world['B']}"), 403, "out_of_scope")
    refused(await as_role("host", HOST).get(f"/v1/reports/projects/{world['B']}"), 404, "project_not_found")
    resp = await as_role("service").get("/dashboard")
    assert resp.status_code == 200 and "教师培训统计看板" in resp.text
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=reporting_app), base_url="http://reporting")
    for path in ("/v1/reports/rates", "/dashboard"):
        refused(await anonymous.get(path), 401, "missing_token")


async def test_bad_input_is_422_and_unknown_ids_404(world, as_role):
    admin = as_role("province_admin", PROVINCE)
    for path, params in (("/v1/reports/rates", {"year": "20x4"}), ("/v1/reports/rates", {"level": "galactic"}),
                         ("/v1/reports/rates", {"region_code": "61'; --"}), ("/v1/reports/rates", {"group_by": "x"}),
                         ("/v1/reports/notices", {"year": 2024}), ("/v1/reports/notices", {"year": 2024,
                                                                                            "min_rate": "1.5"}),
                         ("/v1/reports/hosts", {}), ("/v1/reports/rates.csv", {"project_id": "not-a-uuid"})):
        refused(await admin.get(path, params=params), 422, "validation_error")
    for cursor in ("%%%", "AAAA"):  # not base64; base64 of NUL bytes
        refused(await admin.get("/v1/reports/rates", params={"cursor": cursor}), 422, "bad_cursor")
    refused(await admin.get(f"/v1/reports/projects/{uuid.uuid4()}"), 404, "project_not_found")
    refused(await admin.get("/v1/reports/regions", params={"parent_code": "610999"}), 404, "region_not_found")


async def test_items_page_with_a_cursor(world, as_role):
    admin = as_role("province_admin", PROVINCE)
    first = await ok(await admin.get("/v1/reports/rates", params={"year": 2024, "limit": 1}))
    second = await ok(await admin.get("/v1/reports/rates", params={"year": 2024, "limit": 1,
                                                                   "cursor": first["next_cursor"]}))
    assert [i["label"] for i in first["items"] + second["items"]] == ["A 项目A", "B 项目B"]
    assert second["next_cursor"] is None and first["total"] == second["total"]
    regions = await ok(await admin.get("/v1/reports/regions", params={"year": 2024, "limit": 1}))
    rest = await ok(await admin.get("/v1/reports/regions", params={"year": 2024, "cursor": regions["next_cursor"]}))
    assert [(i["region_code"], i["quota"]) for i in regions["items"] + rest["items"]] == [(CITY, 4), (OTHER_CITY, 3)]


async def test_a_cancelled_project_owes_no_bulletins_and_lag_is_reported(world, as_role):
    doc = await ok(await as_role("host", HOST).get(f"/v1/reports/projects/{world['X']}"))
    assert doc["status"] == "cancelled" and doc["bulletins"]["status"] == "not_applicable"
    assert doc["figures"]["quota"] == 0
    lag = await ok(await as_role("county_admin", COUNTY).get("/v1/reports/lag"))
    assert {(p["projection"], p["source"]) for p in lag["projections"]} == {
        ("reporting_directory", "enrollment"), ("reporting_enrollments", "enrollment"),
        ("reporting_funding", "funding")}
