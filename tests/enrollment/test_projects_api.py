"""Projects over HTTP on the real app (PostgreSQL + NATS): drafting, lifecycle, quotas, bulletins,
reads. Every refusal is problem+json and writes nothing; If-Match and Idempotency-Key hold."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest

from services.enrollment.api.projects import shanghai_today
from tests.conftest import eventually
from tests.enrollment.given import given

TODAY = date(2026, 3, 2)  # Asia/Shanghai "today" for every route in this module
HOST = str(uuid.uuid4())
OTHER_HOST = str(uuid.uuid4())
CITY_ADMIN = ("city_admin", "610100")
PROVINCE_ADMIN = ("province_admin", "610000")
ETHICS = {"name": "师德师风第一课", "hours": 6, "practical": False, "kind": "ethics"}
PRACTICE = {"name": "跟岗实践", "hours": 60, "practical": True, "kind": "practice"}


@pytest.fixture(scope="module", autouse=True)
async def world(enrollment_app, epool):
    enrollment_app.dependency_overrides[shanghai_today] = lambda: TODAY
    for code, kind, parent in (("610000", "province", None), ("610100", "city", "610000"),
                               ("610102", "county", "610100"), ("610200", "city", "610000"),
                               ("610202", "county", "610200"), ("610102001", "school", "610102")):
        await given(epool, f"org-{code}", ("OrgRegistered", {"code": code, "name": f"机构{code}", "kind": kind,
                                                             "parent_code": parent}))
    for host in (HOST, OTHER_HOST):
        await given(epool, f"host-{host}", ("HostRegistered", {"host_id": host, "name": "陕西师范大学",
                                                               "province_code": "610000"}))
    yield
    enrollment_app.dependency_overrides.pop(shanghai_today, None)


@pytest.fixture(scope="module")
def api(as_role):
    async def call(who: tuple[str, str | None], method: str, url: str, **kw):
        async with as_role(*who) as client:
            return await client.request(method, url, **kw)

    return call


def project(**changes) -> dict:
    body = {"code": f"SX-{uuid.uuid4().hex[:10]}", "name": "市级骨干教师培训", "level": "municipal",
            "category": "骨干教师", "year": 2026, "host_id": HOST, "organizer_code": "610100", "hours": 90,
            "hour_category": "centralized", "starts_on": "2026-05-01", "ends_on": "2026-05-10",
            "cross_year": False, "practical_ratio": 0.6, "modules": [ETHICS, PRACTICE]}
    return {k: v for k, v in {**body, **changes}.items() if v is not ...}


async def count(epool) -> int:
    return await epool.fetchval("SELECT count(*) FROM events")


def problem(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    doc = resp.json()
    assert doc["code"] == code and doc["status"] == status and doc["title"], doc


async def draft(api, who=CITY_ADMIN, **changes) -> str:
    resp = await api(who, "POST", "/v1/projects", json=project(**changes))
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


STEPS = (("submit-plan", CITY_ADMIN), ("approve", PROVINCE_ADMIN), ("open", CITY_ADMIN), ("start", CITY_ADMIN),
         ("close", CITY_ADMIN))


async def advance(api, pid: str, steps: int) -> None:
    for action, who in STEPS[:steps]:
        resp = await api(who, "POST", f"/v1/projects/{pid}/{action}")
        assert resp.status_code == 200, resp.text


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
    ({"ends_on": "2026-12-21"}, 422, "ends_after_dec_20"),
    ({"cross_year": True, "ends_on": "2027-03-01", "first_year_ends_on": "2026-12-01"}, 422,
     "first_year_after_nov_30"),
    ({"cross_year": True, "ends_on": "2028-01-01", "first_year_ends_on": "2026-11-30"}, 422, "exceeds_two_years"),
    ({"cross_year": True, "ends_on": "2027-03-01"}, 422, "first_year_end_required"),
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


@pytest.mark.parametrize(("changes", "steps", "action", "code"), [
    ({"starts_on": "2026-03-11", "ends_on": "2026-03-20"}, 0, "submit-plan", "plan_late"),
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


# --- quotas -----------------------------------------------------------------------------------

async def quota(epool, pid: str, region: str):
    return await epool.fetchrow("SELECT places, used FROM project_quotas WHERE project_id = $1 AND region_code = $2",
                                uuid.UUID(pid), region)


async def test_quota_is_set_and_reset_but_never_below_used(api, epool):
    pid = await draft(api)
    url = f"/v1/projects/{pid}/quotas/610102"
    resp = await api(CITY_ADMIN, "PUT", url, json={"places": 5})
    assert resp.status_code == 200 and resp.headers["ETag"] == '"2"' and resp.json()["places"] == 5
    assert (await api(CITY_ADMIN, "PUT", f"/v1/projects/{pid}/quotas/610102001", json={"places": 2})).status_code == 200
    # Stand-in for the nominations projector, which owns `used`.
    await epool.execute("UPDATE project_quotas SET used = 3 WHERE project_id = $1 AND region_code = '610102'",
                        uuid.UUID(pid))
    before = await count(epool)
    problem(await api(CITY_ADMIN, "PUT", url, json={"places": 2}), 409, "quota_below_used")
    assert await count(epool) == before and tuple(await quota(epool, pid, "610102")) == (5, 3)
    assert (await api(CITY_ADMIN, "PUT", url, json={"places": 3})).status_code == 200
    assert tuple(await quota(epool, pid, "610102")) == (3, 3)


async def test_lowering_a_quota_judges_used_as_committed_by_a_concurrent_nomination(api, epool):
    pid = await draft(api)
    url = f"/v1/projects/{pid}/quotas/610102"
    assert (await api(CITY_ADMIN, "PUT", url, json={"places": 3})).status_code == 200
    async with epool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()  # a nomination in flight: holds the row lock with used 0 → 3
        await conn.execute("UPDATE project_quotas SET used = 3 WHERE project_id = $1", uuid.UUID(pid))
        lowering = asyncio.create_task(api(CITY_ADMIN, "PUT", url, json={"places": 2}))

        async def blocked() -> bool:
            return bool(await epool.fetchval("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                              " AND query LIKE 'INSERT INTO project_quotas%'"))

        await eventually(blocked, message="the quota update waiting on the nomination's row lock")
        await tx.commit()
    problem(await lowering, 409, "quota_below_used")
    assert tuple(await quota(epool, pid, "610102")) == (3, 3)


@pytest.mark.parametrize(("who", "region", "body", "status", "code"), [
    (CITY_ADMIN, "610000", {"places": 1}, 422, "region_kind_invalid"),
    (CITY_ADMIN, "610202", {"places": 1}, 422, "region_outside_organizer"),
    (CITY_ADMIN, "610199", {"places": 1}, 404, "region_not_found"),
    (CITY_ADMIN, "610102", {"places": -1}, 422, "validation_error"),
    (CITY_ADMIN, "610102", {"places": "五"}, 422, "validation_error"),
    (CITY_ADMIN, "610102", {}, 422, "validation_error"),
    (("county_admin", "610102"), "610102", {"places": 1}, 403, "out_of_scope"),
    (("host", HOST), "610102", {"places": 1}, 403, "forbidden_role"),
    (("teacher", None), "610102", {"places": 1}, 403, "forbidden_role"),
])
async def test_bad_quota_requests_write_nothing(api, epool, who, region, body, status, code):
    pid = await draft(api)
    before = await count(epool)
    problem(await api(who, "PUT", f"/v1/projects/{pid}/quotas/{region}", json=body), status, code)
    assert await count(epool) == before and await quota(epool, pid, region) is None


async def test_no_quota_for_closed_or_cancelled_projects(api, epool):
    closed, cancelled = await draft(api), await draft(api)
    await advance(api, closed, 5)
    await api(CITY_ADMIN, "POST", f"/v1/projects/{cancelled}/cancel", json={"reason": "合并"})
    before = await count(epool)
    for pid in (closed, cancelled):
        problem(await api(CITY_ADMIN, "PUT", f"/v1/projects/{pid}/quotas/610102", json={"places": 1}), 409,
                "project_inactive")
    assert await count(epool) == before


# --- bulletins --------------------------------------------------------------------------------

def bulletin(issue_no: int = 1, published_on: str = "2026-03-02") -> dict:
    return {"issue_no": issue_no, "title": f"第{issue_no}期简报", "published_on": published_on}


async def test_bulletins_from_the_host_or_organizer_once_per_issue(api, epool):
    pid = await draft(api)
    await advance(api, pid, 4)
    url = f"/v1/projects/{pid}/bulletins"
    first = await api(("host", HOST), "POST", url, json=bulletin(1))
    assert first.status_code == 201 and first.headers["ETag"] == '"6"'
    assert (await api(CITY_ADMIN, "POST", url, json=bulletin(2))).status_code == 201
    before = await count(epool)
    problem(await api(("host", HOST), "POST", url, json=bulletin(1)), 409, "bulletin_exists")
    problem(await api(("host", OTHER_HOST), "POST", url, json=bulletin(3)), 403, "out_of_scope")
    problem(await api(("county_admin", "610102"), "POST", url, json=bulletin(3)), 403, "out_of_scope")
    problem(await api(("teacher", None), "POST", url, json=bulletin(3)), 403, "forbidden_role")
    problem(await api(("host", HOST), "POST", url, json=bulletin(3, "2026-03-03")), 422, "published_in_future")
    problem(await api(("host", HOST), "POST", url, json=bulletin(0)), 422, "validation_error")
    problem(await api(("host", HOST), "POST", url, json={"issue_no": 3}), 422, "validation_error")
    assert await count(epool) == before
    issues = await epool.fetch("SELECT issue_no FROM bulletins WHERE project_id = $1 ORDER BY 1", uuid.UUID(pid))
    assert [r["issue_no"] for r in issues] == [1, 2]


async def test_no_bulletin_before_the_project_starts(api, epool):
    pid = await draft(api)
    await advance(api, pid, 3)
    before = await count(epool)
    problem(await api(("host", HOST), "POST", f"/v1/projects/{pid}/bulletins", json=bulletin()), 409,
            "project_not_started")
    assert await count(epool) == before


# --- reads ------------------------------------------------------------------------------------

async def test_get_shows_quotas_bulletins_and_etag_to_readers(api, as_role):
    pid = await draft(api)
    await api(CITY_ADMIN, "PUT", f"/v1/projects/{pid}/quotas/610102", json={"places": 4})
    await advance(api, pid, 4)
    await api(("host", HOST), "POST", f"/v1/projects/{pid}/bulletins", json=bulletin())
    for who in (("teacher", None), ("auditor", "610102"), ("service", None), ("host", HOST), PROVINCE_ADMIN):
        resp = await api(who, "GET", f"/v1/projects/{pid}")
        assert resp.status_code == 200 and resp.headers["ETag"] == '"7"', who
    doc = resp.json()
    assert doc["status"] == "started" and doc["version"] == 7 and doc["hours"] == 90
    assert doc["quotas"] == [{"region_code": "610102", "places": 4, "used": 0}]
    assert doc["bulletins"] == [{"issue_no": 1, "title": "第1期简报", "published_on": "2026-03-02"}]
    assert doc["modules"][0]["kind"] == "ethics"
    problem(await api(("host", OTHER_HOST), "GET", f"/v1/projects/{pid}"), 404, "project_not_found")
    async with as_role("teacher") as c:
        problem(await c.get(f"/v1/projects/{pid}", headers={"Authorization": ""}), 401, "missing_token")


async def test_list_filters_and_pages(api, as_role):
    a = await draft(api, year=2028, starts_on="2028-05-01", ends_on="2028-05-05")
    b = await draft(api, PROVINCE_ADMIN, year=2028, level="provincial", organizer_code="610000",
                    starts_on="2028-06-01", ends_on="2028-06-05", host_id=OTHER_HOST)
    await api(PROVINCE_ADMIN, "PUT", f"/v1/projects/{b}/quotas/610202", json={"places": 2})
    c = await draft(api, ("city_admin", "610200"), year=2028, organizer_code="610200", starts_on="2028-07-01",
                    ends_on="2028-07-05")

    async def ids(**query) -> list[str]:
        resp = await api(("teacher", None), "GET", "/v1/projects", params={"year": 2028, **query})
        assert resp.status_code == 200, resp.text
        return [item["id"] for item in resp.json()["items"]]

    assert await ids() == [a, b, c]
    assert await ids(level="municipal") == [a, c]
    assert await ids(region="610202") == [b]
    assert await ids(region="610200") == [b, c]
    assert await ids(region="610100") == [a]
    assert await ids(year=2099) == []
    seen, cursor = [], None
    while True:
        page = (await api(("teacher", None), "GET", "/v1/projects",
                          params={"year": 2028, "limit": 1} | ({"cursor": cursor} if cursor else {}))).json()
        seen += [item["id"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [a, b, c]
    host_view = await api(("host", OTHER_HOST), "GET", "/v1/projects", params={"year": 2028})
    assert [item["id"] for item in host_view.json()["items"]] == [b]
    problem(await api(("teacher", None), "GET", "/v1/projects", params={"cursor": "bm9wZQ"}), 400, "bad_cursor")
    problem(await api(("teacher", None), "GET", "/v1/projects", params={"limit": 0}), 422, "validation_error")
    problem(await api(("teacher", None), "GET", "/v1/projects", params={"limit": 501}), 422, "validation_error")
    problem(await api(("teacher", None), "GET", "/v1/projects", params={"year": 10**12}), 422, "validation_error")
