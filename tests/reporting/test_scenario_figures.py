"""Acceptance 1 (JSON): two counties, three projects, known outcomes (tests/reporting/scenario.py)
travel from the real enrollment API over NATS into reporting, which gives exact counts and rates
per project, region, level and host, the notices, the ranking and each project's obligations."""

from __future__ import annotations

from tests.reporting.given import at_head, ok, refused
from tests.reporting.scenario import C1, C2, CITY, PROVINCE

COUNTS = ("quota", "nominated", "checked_in", "completed", "failed", "no_show", "withdrawn", "replaced",
          "evaluations", "satisfied")
RATES = ("selection_rate", "check_in_rate", "completion_rate", "satisfaction_rate")


def figures(doc: dict) -> tuple:
    return tuple(doc[k] for k in COUNTS), tuple(doc[k] for k in RATES)


async def test_rates_per_project_and_in_total(world, as_role):
    doc = await ok(await as_role("city_admin", CITY).get("/v1/reports/rates", params={"year": 2023}))
    assert doc["region_code"] == CITY and doc["next_cursor"] is None
    assert figures(doc["total"]) == ((12, 10, 7, 6, 1, 3, 1, 1, 7, 5), ("0.8333", "0.7000", "0.8571", "0.7143"))
    by_project = {i["key"]: figures(i) for i in doc["items"]}
    p = world.projects
    assert by_project == {
        p["P1"]: ((5, 5, 4, 3, 1, 1, 0, 1, 4, 3), ("1.0000", "0.8000", "0.7500", "0.7500")),
        p["P2"]: ((5, 3, 3, 3, 0, 0, 1, 0, 3, 2), ("0.6000", "1.0000", "1.0000", "0.6667")),
        # Nobody checked in to P3: its completion and satisfaction rates are undefined — null, not 0.
        p["P3"]: ((2, 2, 0, 0, 0, 2, 0, 0, 0, 0), ("1.0000", "0.0000", None, None)),
    }
    assert [i["label"] for i in doc["items"]] == ["SX2023-P1 2023年P1教师培训", "SX2023-P2 2023年P2教师培训",
                                                  "SX2023-P3 2023年P3教师培训"]


async def test_rates_per_level_region_and_for_one_project_in_one_county(world, as_role):
    city = as_role("city_admin", CITY)
    levels = await ok(await city.get("/v1/reports/rates", params={"year": 2023, "group_by": "level"}))
    assert [(i["key"], i["label"], i["completion_rate"]) for i in levels["items"]] == [
        ("national", "国培", "0.7500"), ("provincial", "省培", "1.0000"), ("municipal", "市培", None)]
    regions = await ok(await city.get("/v1/reports/rates", params={"year": 2023, "group_by": "region"}))
    assert [(i["key"], i["label"], i["quota"], i["nominated"]) for i in regions["items"]] == [
        (C1, "新城区", 7, 6), (C2, "碑林区", 5, 4)]
    one = await ok(await as_role("county_admin", C2).get("/v1/reports/rates", params={
        "project_id": world.projects["P3"]}))
    # C2 got no places in P3: nothing to select from, so its selection rate is undefined.
    assert figures(one["total"]) == ((0, 0, 0, 0, 0, 0, 0, 0, 0, 0), (None, None, None, None))
    national = await ok(await city.get("/v1/reports/rates", params={"year": 2023, "level": "national"}))
    assert [i["key"] for i in national["items"]] == [world.projects["P1"]]


async def test_regions_roll_counties_up_to_the_city_and_the_city_to_the_province(world, as_role):
    doc = await ok(await as_role("city_admin", CITY).get("/v1/reports/regions", params={"year": 2023}))
    assert doc["parent"]["region_code"] == CITY and figures(doc["parent"])[0][:4] == (12, 10, 7, 6)
    assert {i["region_code"]: figures(i) for i in doc["items"]} == {
        C1: ((7, 6, 4, 3, 1, 2, 1, 1, 4, 3), ("0.8571", "0.6667", "0.7500", "0.7500")),
        C2: ((5, 4, 3, 3, 0, 1, 0, 0, 3, 2), ("0.8000", "0.7500", "1.0000", "0.6667")),
    }
    top = await ok(await as_role("province_admin", PROVINCE).get("/v1/reports/regions", params={"year": 2023}))
    assert [(i["region_code"], i["quota"], i["completion_rate"]) for i in top["items"]] == [(CITY, 12, "0.8571")]


async def test_notices_name_regions_strictly_below_the_rate(world, as_role):
    doc = await ok(await as_role("province_admin", PROVINCE).get("/v1/reports/notices", params={
        "year": 2023, "min_rate": "0.8"}))
    # C2's selection rate is exactly 0.8: not below. P3's undefined completion names nobody.
    assert [(i["region_code"], i["below"]) for i in doc["items"]] == [
        (CITY, ["check_in_rate"]), (C1, ["check_in_rate", "completion_rate"]), (C2, ["check_in_rate"])]
    assert doc["title"] == "2023年度选送率、报到率、结业率低于80%的地区"
    only = await ok(await as_role("city_admin", CITY).get("/v1/reports/notices", params={
        "year": 2023, "min_rate": "0.86", "rate": "selection"}))
    assert [(i["region_code"], i["selection_rate"]) for i in only["items"]] == [(CITY, "0.8333"), (C1, "0.8571"),
                                                                              (C2, "0.8000")]
    refused(await as_role("host", world.hosts["H1"]).get("/v1/reports/notices", params={
        "year": 2023, "min_rate": "0.8"}), 403, "forbidden_role")


async def test_hosts_are_ranked_by_the_documented_score(world, as_role):
    doc = await ok(await as_role("province_admin", PROVINCE).get("/v1/reports/hosts", params={"year": 2023}))
    h = world.hosts
    # H1: 0.4·3/4 + 0.4·3/4 + 0.2·2/2; H2: 0.4·1 + 0.4·2/3 + 0.2·1/3; H3: 0 + 0 + 0.2·1/2
    assert [(i["rank"], i["host_id"], i["score"], i["completion_rate"], i["satisfaction_rate"], i["bulletin_share"])
            for i in doc["items"]] == [(1, h["H1"], "0.8000", "0.7500", "0.7500", "1.0000"),
                                       (2, h["H2"], "0.7333", "1.0000", "0.6667", "0.3333"),
                                       (3, h["H3"], "0.1000", None, None, "0.5000")]
    assert doc["weights"] == {"completion": "0.4", "satisfaction": "0.4", "bulletins": "0.2", "close_out": "0"}
    # Close-out (004 §3.3), shown but weighed 0 by default: H1's P1 has its videos, its case came late.
    assert [(i["close_out_projects"], i["close_out_share"]) for i in doc["items"]] == [
        (1, "0.5000"), (1, "0.0000"), (1, "0.0000")]
    assert [i["satisfaction_target_met"] for i in doc["items"]] == [False, False, None]  # 002 §2: 90%
    own = await ok(await as_role("host", h["H2"]).get("/v1/reports/hosts", params={"year": 2023}))
    assert [(i["rank"], i["host_id"]) for i in own["items"]] == [(2, h["H2"])]


async def test_project_obligations_bulletins_deadlines_and_failed_learners(world, as_role):
    p1 = await ok(await as_role("province_admin", PROVINCE).get(f"/v1/reports/projects/{world.projects['P1']}"))
    assert (p1["duration_days"], p1["bulletins"]["required_min"], p1["bulletins"]["due_by"],
            p1["bulletins"]["on_time"], p1["bulletins"]["status"]) == (10, 2, "2023-08-08", 2, "met")
    assert p1["close_out"]["due_by"] == "2023-08-23" and "考核不合格学员名单" in p1["close_out"]["materials"]
    assert (p1["close_out"]["min_cases"], p1["close_out"]["min_course_videos"]) == (1, 1)  # 004 §3.3
    close = p1["close_out"]
    assert (close["status"], close["delivered"], close["course_videos"], close["cases"]["on_time"],
            close["cases"]["status"]) == ("overdue", 2, {"label": "每一子项目高品质课程视频资源", "required": 1,
                                                         "on_time": 2, "status": "met"}, 0, "overdue")
    assert [(i["kind"], i["kind_label"], i["count"], i["received_on"], i["on_time"]) for i in close["items"]] == [
        ("course_video", "高品质课程视频资源", 2, "2023-08-10", True), ("case", "优秀工作案例", 1, "2023-08-25", False)]
    t2 = world.teachers["T2"]
    assert p1["failed_learners"] == [{"enrollment_id": world.enrollments[("P1", "T2")], "teacher_id": t2,
                                      "region_code": C1, "reason": "过程考核不合格", "failed_on": "2023-07-24"}]
    assert p1["figures"]["completed"] == 3
    p2 = await ok(await as_role("host", world.hosts["H2"]).get(f"/v1/reports/projects/{world.projects['P2']}"))
    assert [(b["issue_no"], b["on_time"]) for b in p2["bulletins"]["issues"]] == [(1, True), (2, False)]
    assert (p2["bulletins"]["required_min"], p2["bulletins"]["required_max"], p2["bulletins"]["status"]) == (
        3, 5, "overdue")
    # A county that only sent learners sees its own part; another host does not see the project at all.
    c2 = await ok(await as_role("county_admin", C2).get(f"/v1/reports/projects/{world.projects['P1']}"))
    assert c2["failed_learners"] == [] and c2["figures"]["checked_in"] == 1 and c2["region_code"] == C2
    refused(await as_role("host", world.hosts["H1"]).get(f"/v1/reports/projects/{world.projects['P2']}"), 404,
            "project_not_found")


async def test_next_years_places_are_tilted_toward_the_better_county(world, as_role):
    # 004 §4.1 指标调整. C1: rates 6/7, 4/6, 3/4 → score 0.3·6/7 + 0.4·4/6 + 0.3·3/4 ≈ 0.7488;
    # C2: 4/5, 3/4, 3/3 → 0.84. Quota-weighted mean ≈ 0.7868, so factors ≈ 0.9620 and 1.0532;
    # 100 places ∝ 7·0.9620 : 5·1.0532 = 56.12 : 43.88 → 56 and 44 (without the tilt: 58 and 42).
    doc = await ok(await as_role("province_admin", PROVINCE).get("/v1/reports/quota-suggestions", params={
        "year": 2023, "places": 100, "parent_code": CITY}))
    assert (doc["for_year"], doc["places"], doc["formula"]["weights"]) == (
        2024, 100, {"selection_rate": "0.3", "check_in_rate": "0.4", "completion_rate": "0.3"})
    assert [(i["region_code"], i["quota"], i["score"], i["factor"], i["suggested_places"]) for i in doc["items"]] == [
        (C1, 7, "0.7488", "0.9620", 56), (C2, 5, "0.8400", "1.0532", 44)]
    own = await ok(await as_role("city_admin", CITY).get("/v1/reports/quota-suggestions", params={
        "year": 2023, "places": 7}))
    assert sum(i["suggested_places"] for i in own["items"]) == 7


async def test_quota_suggestions_refuse_outsiders_and_bad_input(world, as_role):
    params = {"year": 2023, "places": 100}
    refused(await as_role("host", world.hosts["H1"]).get("/v1/reports/quota-suggestions", params=params), 403,
            "forbidden_role")
    refused(await as_role("county_admin", C1).get("/v1/reports/quota-suggestions", params=params | {
        "parent_code": CITY}), 403, "out_of_scope")
    admin = as_role("province_admin", PROVINCE)
    for bad in ({"year": 2023}, {"year": 2023, "places": -1}, {"year": "x", "places": 1}, {"places": 5}):
        refused(await admin.get("/v1/reports/quota-suggestions", params=bad), 422, "validation_error")
    refused(await admin.get("/v1/reports/quota-suggestions", params=params | {"parent_code": "610999"}), 404,
            "region_not_found")


async def test_host_duties_published_in_the_enrollment_policy_govern_ranking_and_obligations(
        world, as_role, as_enrollment, enrollment_app, reporting_app):
    # Last in this module: it changes the province's policy. Published once, on enrollment (issue 15);
    # reporting keeps the version and judges with it (one home for the numbers).
    r = await as_enrollment("province_admin", PROVINCE).put(f"/v1/policies/{PROVINCE}", json={
        "effective_from": "2023-01-01", "close_out_days": 40, "close_out_min_course_videos": 2,
        "ranking_weights": {"completion": "0.2", "satisfaction": "0.2", "bulletins": "0.5", "close_out": "0.1"}})
    assert r.status_code == 201, r.text
    await at_head(reporting_app, enrollment_app, "reporting_directory")
    doc = await ok(await as_role("province_admin", PROVINCE).get("/v1/reports/hosts", params={"year": 2023}))
    h = world.hosts
    # Within 40 days H1's case of 25 August is on time: its close-out share is 1 (issue 20).
    # H1: 0.2·3/4 + 0.2·3/4 + 0.5·1 + 0.1·1 = 0.9; H2: 0.2·1 + 0.2·2/3 + 0.5·1/3 + 0 = 0.5; H3: 0.5·1/2 = 0.25
    assert doc["weights"] == {"completion": "0.2", "satisfaction": "0.2", "bulletins": "0.5", "close_out": "0.1"}
    assert [(i["host_id"], i["score"], i["close_out_share"]) for i in doc["items"]] == [
        (h["H1"], "0.9000", "1.0000"), (h["H2"], "0.5000", "0.0000"), (h["H3"], "0.2500", "0.0000")]
    p1 = await ok(await as_role("province_admin", PROVINCE).get(f"/v1/reports/projects/{world.projects['P1']}"))
    assert p1["close_out"]["due_by"] == "2023-09-02"  # ends 24 July + 40 days
    assert p1["close_out"]["min_course_videos"] == 2
    assert (p1["close_out"]["course_videos"]["status"], p1["close_out"]["cases"]["status"]) == ("met", "met")
