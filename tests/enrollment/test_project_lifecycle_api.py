"""Projects over HTTP on the real app (PostgreSQL + NATS): drafting and the lifecycle from plan to
close or cancel. Every refusal is problem+json and writes nothing; If-Match and Idempotency-Key hold.
"""

from __future__ import annotations

import uuid

import pytest

from tests.enrollment import seed_projects
from tests.enrollment.seed_projects import (
    CITY_ADMIN,
    ETHICS,
    HOST,
    PRACTICE,
    PROVINCE_ADMIN,
    STEPS,
    TODAY,
    advance,
    count,
    draft,
    problem,
    project,
)

world, api = seed_projects.world, seed_projects.api  # module-scoped fixtures, one per test module


# --- drafting ---------------------------------------------------------------------------------

async def test_draft_records_one_event_and_the_row(api, epool):
    before = await count(epool)
    body = project(cross_year=True, first_year_ends_on="2026-11-30", ends_on="2027-06-30")
    resp = await api(CITY_ADMIN, "POST", "/v1/projects", json=body)
    assert resp.status_code == 201 and resp.headers["ETag"] == '"1"'
    pid = resp.json()["id"]
    assert resp.headers["Location"] == f"/v1/projects/{pid}" and await count(epool) == before + 1
    data = await epool.fetchval("SELECT data FROM events WHERE stream_id = $1", f"project-{pid}")
    assert data["organizer_code"] == "610100" and data["modules"][0]["kind"] == "ethics"
    row = await epool.fetchrow("SELECT * FROM projects WHERE id = $1", uuid.UUID(pid))
    assert (row["status"], row["version"], str(row["first_year_ends_on"])) == ("drafted", 1, "2026-11-30")


@pytest.mark.parametrize(("changes", "status", "code"), [
    ({"name": ...}, 422, "validation_error"),
    ({"year": "二〇二六"}, 422, "validation_error"),
    ({"hours": "many"}, 422, "validation_error"),
    ({"level": "village"}, 422, "validation_error"),
    ({"host_id": "not-a-uuid"}, 422, "validation_error"),
    ({"ends_on": "2026-04-30"}, 422, "ends_before_start"),
    ({"year": 2027}, 422, "year_mismatch"),
    ({"hours": 0}, 422, "hours_out_of_range"),
    ({"practical_ratio": 1.5}, 422, "practical_ratio_out_of_range"),
    ({"modules": [ETHICS, {**PRACTICE, "hours": 90}]}, 422, "module_hours_invalid"),
    # 004 §3.2's calendar binds 国培 (the policy's calendar_levels); a municipal course is not held to it.
    ({"level": "national", "ends_on": "2026-12-21"}, 422, "ends_after_dec_20"),
    ({"level": "national", "cross_year": True, "ends_on": "2027-03-01", "first_year_ends_on": "2026-12-01"}, 422,
     "first_year_after_nov_30"),
    ({"level": "national", "cross_year": True, "ends_on": "2028-01-01", "first_year_ends_on": "2026-11-30"}, 422,
     "exceeds_two_years"),
    ({"level": "national", "cross_year": True, "ends_on": "2027-03-01"}, 422, "first_year_end_required"),
    ({"ends_on": "2027-01-05"}, 422, "cross_year_mismatch"),  # any level: dates and cross_year agree
    ({"host_id": str(uuid.uuid4())}, 422, "host_not_found"),
    ({"organizer_code": "610199"}, 422, "org_not_found"),
    ({"organizer_code": "610200"}, 403, "out_of_scope"),
    ({"organizer_code": "620000"}, 403, "out_of_scope"),
])
async def test_bad_drafts_are_problems_and_write_nothing(api, epool, changes, status, code):
    before = await count(epool)
    problem(await api(CITY_ADMIN, "POST", "/v1/projects", json=project(**changes)), status, code)
    assert await count(epool) == before


async def test_draft_needs_an_admin_role_a_token_and_a_json_body(api, epool, as_role):
    before = await count(epool)
    for who in (("teacher", None), ("host", HOST), ("auditor", "610000"), ("service", None)):
        problem(await api(who, "POST", "/v1/projects", json=project()), 403, "forbidden_role")
    problem(await api(("county_admin", "610102"), "POST", "/v1/projects", json=project()), 403, "out_of_scope")
    async with as_role(*CITY_ADMIN) as c:
        problem(await c.post("/v1/projects", json=project(), headers={"Authorization": ""}), 401, "missing_token")
        problem(await c.post("/v1/projects", content=b"{not json", headers={"content-type": "application/json"}),
                422, "validation_error")
    assert await count(epool) == before


async def test_project_code_is_unique(api, epool):
    body = project()
    assert (await api(CITY_ADMIN, "POST", "/v1/projects", json=body)).status_code == 201
    before = await count(epool)
    problem(await api(CITY_ADMIN, "POST", "/v1/projects", json=body), 409, "project_code_exists")
    assert await count(epool) == before


async def test_idempotency_key_replays_the_draft_with_one_event(api, epool):
    before, key = await count(epool), {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = project()
    first = await api(CITY_ADMIN, "POST", "/v1/projects", json=body, headers=key)
    again = await api(CITY_ADMIN, "POST", "/v1/projects", json=body, headers=key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true" and await count(epool) == before + 1
    pid = first.json()["id"]
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    replies = [await api(CITY_ADMIN, "POST", f"/v1/projects/{pid}/submit-plan", headers=key) for _ in range(2)]
    assert [r.status_code for r in replies] == [200, 200] and await count(epool) == before + 2


# --- lifecycle --------------------------------------------------------------------------------

async def test_lifecycle_from_draft_to_close(api, epool):
    pid = await draft(api)
    for version, (action, who) in enumerate(STEPS, start=2):
        resp = await api(who, "POST", f"/v1/projects/{pid}/{action}")
        assert resp.status_code == 200 and resp.headers["ETag"] == f'"{version}"', resp.text
    row = await epool.fetchrow("SELECT status, version, started_on, closed_on FROM projects WHERE id = $1",
                               uuid.UUID(pid))
    assert (row["status"], row["version"], row["started_on"], row["closed_on"]) == ("closed", 6, TODAY, TODAY)
    shown = (await api(CITY_ADMIN, "GET", f"/v1/projects/{pid}")).json()
    assert (shown["year_kind"], shown["year_label"]) == ("project_year", f"{shown['year']}年度项目")


@pytest.mark.parametrize(("changes", "steps", "action", "code"), [
    ({"level": "national", "starts_on": "2026-03-11", "ends_on": "2026-03-20"}, 0, "submit-plan", "plan_late"),
    ({"starts_on": "2026-03-02", "ends_on": "2026-03-20"}, 0, "submit-plan", "plan_late"),  # starts today
    ({"practical_ratio": 0.49}, 0, "submit-plan", "practical_share_low"),
    ({"modules": [PRACTICE]}, 0, "submit-plan", "ethics_module_missing"),
    ({}, 1, "submit-plan", "invalid_transition"),
    ({}, 0, "approve", "invalid_transition"),
    ({}, 1, "open", "not_approved"),
    ({}, 0, "start", "not_approved"),
    ({}, 2, "start", "not_open"),
    ({}, 3, "close", "invalid_transition"),
])
async def test_lifecycle_refusals_are_409_and_write_nothing(api, epool, changes, steps, action, code):
    pid = await draft(api, **changes)
    await advance(api, pid, steps)
    before = await count(epool)
    who = PROVINCE_ADMIN if action == "approve" else CITY_ADMIN
    problem(await api(who, "POST", f"/v1/projects/{pid}/{action}"), 409, code)
    assert await count(epool) == before


async def test_plan_ten_days_ahead_is_on_time(api):
    pid = await draft(api, starts_on="2026-03-12", ends_on="2026-03-20")
    assert (await api(CITY_ADMIN, "POST", f"/v1/projects/{pid}/submit-plan")).status_code == 200


async def test_approval_is_by_a_higher_level_or_the_province_itself(api, epool):
    city_project = await draft(api)
    await advance(api, city_project, 1)
    before = await count(epool)
    problem(await api(CITY_ADMIN, "POST", f"/v1/projects/{city_project}/approve"), 403, "self_approval")
    problem(await api(("county_admin", "610102"), "POST", f"/v1/projects/{city_project}/approve"), 403,
            "out_of_scope")
    problem(await api(("province_admin", "620000"), "POST", f"/v1/projects/{city_project}/approve"), 403,
            "out_of_scope")
    problem(await api(("host", HOST), "POST", f"/v1/projects/{city_project}/approve"), 403, "forbidden_role")
    assert await count(epool) == before
    province_project = await draft(api, PROVINCE_ADMIN, organizer_code="610000", level="provincial")
    await api(PROVINCE_ADMIN, "POST", f"/v1/projects/{province_project}/submit-plan")
    assert (await api(PROVINCE_ADMIN, "POST", f"/v1/projects/{province_project}/approve")).status_code == 200


async def test_cancel_before_start_only_with_a_reason(api, epool):
    pid = await draft(api)
    await advance(api, pid, 3)
    before = await count(epool)
    problem(await api(CITY_ADMIN, "POST", f"/v1/projects/{pid}/cancel", json={}), 422, "validation_error")
    problem(await api(CITY_ADMIN, "POST", f"/v1/projects/{pid}/cancel", json={"reason": "  "}), 422, "reason_required")
    assert await count(epool) == before
    ok = await api(CITY_ADMIN, "POST", f"/v1/projects/{pid}/cancel", json={"reason": "承办方撤回"})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"5"'
    row = await epool.fetchrow("SELECT status, cancel_reason FROM projects WHERE id = $1", uuid.UUID(pid))
    assert tuple(row) == ("cancelled", "承办方撤回")
    started = await draft(api)
    await advance(api, started, 4)
    problem(await api(CITY_ADMIN, "POST", f"/v1/projects/{started}/cancel", json={"reason": "x"}), 409,
            "already_started")


async def test_unknown_or_malformed_project_ids(api, epool):
    before, missing = await count(epool), uuid.uuid4()
    problem(await api(CITY_ADMIN, "POST", f"/v1/projects/{missing}/submit-plan"), 404, "project_not_found")
    problem(await api(CITY_ADMIN, "PUT", f"/v1/projects/{missing}/quotas/610102", json={"places": 1}), 404,
            "project_not_found")
    problem(await api(("host", HOST), "POST", f"/v1/projects/{missing}/bulletins",
                      json={"issue_no": 1, "title": "t", "published_on": "2026-03-01"}), 404, "project_not_found")
    problem(await api(CITY_ADMIN, "POST", "/v1/projects/42/open"), 422, "validation_error")
    problem(await api(("teacher", None), "GET", f"/v1/projects/{missing}"), 404, "project_not_found")
    assert await count(epool) == before


async def test_if_match_guards_against_stale_writes(api, epool):
    pid = await draft(api)
    got = await api(("teacher", None), "GET", f"/v1/projects/{pid}")
    assert got.headers["ETag"] == '"1"'
    ok = await api(CITY_ADMIN, "POST", f"/v1/projects/{pid}/submit-plan", headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    before = await count(epool)
    problem(await api(PROVINCE_ADMIN, "POST", f"/v1/projects/{pid}/approve", headers={"If-Match": '"1"'}), 412,
            "precondition_failed")
    problem(await api(PROVINCE_ADMIN, "POST", f"/v1/projects/{pid}/approve", headers={"If-Match": "x"}), 400,
            "bad_if_match")
    assert await count(epool) == before
    assert (await api(PROVINCE_ADMIN, "POST", f"/v1/projects/{pid}/approve", headers={"If-Match": '"2"'})
            ).status_code == 200


async def test_the_national_calendar_binds_national_projects_only(api, epool):
    # Issue 20, acceptance 2 (004 §3.2 is the 国培 notice's calendar): a school-based course from
    # September to June and a county course ending 28 December are drafted; a 国培 project ending
    # 28 December is refused.
    school = project(level="school", year=2026, starts_on="2026-09-01", ends_on="2027-06-30", cross_year=True)
    county = project(level="county", starts_on="2026-12-01", ends_on="2026-12-28")
    for body in (school, county):
        r = await api(CITY_ADMIN, "POST", "/v1/projects", json=body)
        assert r.status_code == 201, r.text
    before = await count(epool)
    national = project(level="national", starts_on="2026-12-01", ends_on="2026-12-28")
    problem(await api(CITY_ADMIN, "POST", "/v1/projects", json=national), 422, "ends_after_dec_20")
    assert await count(epool) == before


async def test_the_host_files_its_own_plan_and_no_other(api, epool):
    # Issue 20, 004 §3.2 "各项目承担单位…在开班前10天将项目实施方案…报送": the host submits its plan.
    pid = await draft(api)  # hosted by HOST
    other = await draft(api, host_id=None)
    before = await count(epool)
    problem(await api(("host", str(uuid.uuid4())), "POST", f"/v1/projects/{pid}/submit-plan"), 403, "out_of_scope")
    problem(await api(("host", HOST), "POST", f"/v1/projects/{other}/submit-plan"), 403, "out_of_scope")
    problem(await api(("host", HOST), "POST", f"/v1/projects/{pid}/open"), 403, "forbidden_role")
    assert await count(epool) == before
    r = await api(("host", HOST), "POST", f"/v1/projects/{pid}/submit-plan")
    assert r.status_code == 200, r.text
    meta = await epool.fetchval("SELECT metadata FROM events WHERE stream_id = $1 AND type = 'ProjectPlanSubmitted'",
                                f"project-{pid}")
    assert meta["actor"]["role"] == "host"
