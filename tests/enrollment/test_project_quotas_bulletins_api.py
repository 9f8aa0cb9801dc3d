"""Projects over HTTP on the real app (PostgreSQL + NATS): regional quotas, bulletins (简报), and reads
of one project and of the filtered, paged list. Every refusal is problem+json and writes nothing.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import eventually
from tests.enrollment import seed_projects
from tests.enrollment.seed_projects import CITY_ADMIN, HOST, OTHER_HOST, PROVINCE_ADMIN, advance, count, draft, problem

world, api = seed_projects.world, seed_projects.api  # module-scoped fixtures, one per test module


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
                                              " AND query LIKE '%FROM project_quotas%FOR UPDATE%'"))

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
    assert doc["quotas"] == [{"region_code": "610102", "places": 4, "used": 0, "split": 0, "split_from": None}]
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
    problem(await api(("teacher", None), "GET", "/v1/projects", params={"cursor": "bm9wZQ"}), 422, "bad_cursor")
    problem(await api(("teacher", None), "GET", "/v1/projects", params={"limit": 0}), 422, "validation_error")
    problem(await api(("teacher", None), "GET", "/v1/projects", params={"limit": 501}), 422, "validation_error")
    problem(await api(("teacher", None), "GET", "/v1/projects", params={"year": 10**12}), 422, "validation_error")
