"""PUT/GET /v1/orgs and /v1/hosts on the real enrollment app (PostgreSQL + NATS)."""

from __future__ import annotations

import uuid

import pytest

from tests.enrollment.given import given

PROBLEM = "application/problem+json"


def org(code, name, kind, parent=None):
    return ("OrgRegistered", {"code": code, "name": name, "kind": kind, "parent_code": parent})


@pytest.fixture(scope="module", autouse=True)
async def shaanxi(epool):
    # Given: Shaanxi → Xi'an → 新城区, and Henan (for 济源).
    for o in (org("610000", "陕西省", "province"), org("610100", "西安市", "city", "610000"),
              org("610102", "新城区", "county", "610100"), org("410000", "河南省", "province")):
        await given(epool, f"org-{o[1]['code']}", o)


async def count(pool, stream_id=None) -> int:
    if stream_id is None:
        return await pool.fetchval("SELECT count(*) FROM events")
    return await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", stream_id)


async def test_a_province_admin_registers_its_province_and_reads_it_back(as_role, epool):
    async with as_role("province_admin", "620000") as c:
        resp = await c.put("/v1/orgs/620000", json={"name": "甘肃省", "kind": "province"})
        assert resp.status_code == 201 and resp.headers["ETag"] == '"1"'
        assert resp.json() == {"code": "620000", "name": "甘肃省", "kind": "province", "parent_code": None,
                               "version": 1}
        got = await c.get("/v1/orgs/620000")
    assert got.status_code == 200 and got.headers["ETag"] == '"1"' and got.json()["name"] == "甘肃省"
    data = await epool.fetchval("SELECT data FROM events WHERE stream_id = 'org-620000'")
    assert data == {"code": "620000", "name": "甘肃省", "kind": "province", "parent_code": None}


async def test_an_identical_put_is_a_no_op_and_a_new_name_is_an_update(as_role, epool):
    body = {"name": "铜川市", "kind": "city", "parent_code": "610000"}
    async with as_role("province_admin", "610000") as c:
        assert (await c.put("/v1/orgs/610200", json=body)).status_code == 201
        again = await c.put("/v1/orgs/610200", json=body)
        assert again.status_code == 200 and again.headers["ETag"] == '"1"'
        assert await count(epool, "org-610200") == 1
        renamed = await c.put("/v1/orgs/610200", json={**body, "name": "铜川"})
        assert renamed.status_code == 200 and renamed.headers["ETag"] == '"2"'
        assert (await c.get("/v1/orgs/610200")).json()["name"] == "铜川"
        stale = await c.put("/v1/orgs/610200", json=body, headers={"If-Match": '"1"'})
        assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    assert await count(epool, "org-610200") == 2
    assert await epool.fetchval("SELECT (name, version) = ('铜川', 2) FROM orgs WHERE code = '610200'")


async def test_each_level_registers_inside_its_subtree(as_role, epool):
    async with as_role("city_admin", "610100") as c:
        assert (await c.put("/v1/orgs/610103", json={"name": "碑林区", "kind": "county",
                                                     "parent_code": "610100"})).status_code == 201
    async with as_role("county_admin", "610103") as c:
        resp = await c.put("/v1/orgs/610103001", json={"name": "西安市第一中学", "kind": "school",
                                                       "parent_code": "610103"})
        assert resp.status_code == 201
    async with as_role("province_admin", "410000") as c:
        resp = await c.put("/v1/orgs/419001", json={"name": "济源市", "kind": "county", "parent_code": "410000"})
        assert resp.status_code == 201  # 省直辖县级行政区划 (seed 003)
    assert await epool.fetchval("SELECT parent_code FROM orgs WHERE code = '610103001'") == "610103"


@pytest.mark.parametrize(("role", "org_code", "code", "body", "status", "problem"), [
    ("county_admin", "610102", "610102002", {"name": "x", "kind": "school", "parent_code": "610102"}, None, None),
    ("county_admin", "610102", "6101020", {"name": "x", "kind": "school", "parent_code": "610102"},
     422, "invalid_org_code"),
    ("city_admin", "610100", "610104", {"name": "x", "kind": "county", "parent_code": "610000"},
     422, "invalid_parent"),
    ("province_admin", "610000", "610300", {"name": "x", "kind": "city"}, 422, "invalid_parent"),
    ("province_admin", "610000", "610000", {"name": "x", "kind": "province", "parent_code": "610000"},
     422, "invalid_parent"),
    ("province_admin", "610000", "610402", {"name": "x", "kind": "county", "parent_code": "610400"},
     422, "parent_not_found"),
    ("province_admin", "610000", "610100", {"name": "x", "kind": "county", "parent_code": "610000"},
     422, "invalid_org_code"),
    ("city_admin", "610100", "610202", {"name": "x", "kind": "county", "parent_code": "610200"},
     403, "out_of_scope"),
    ("city_admin", "610100", "610000", {"name": "x", "kind": "province"}, 403, "out_of_scope"),
    ("province_admin", "610000", "620000", {"name": "x", "kind": "province"}, 403, "out_of_scope"),
    ("school_admin", "610102001", "610102001", {"name": "x", "kind": "school", "parent_code": "610102"},
     403, "forbidden_role"),
    ("service", None, "610105", {"name": "x", "kind": "county", "parent_code": "610100"}, 403, "forbidden_role"),
    ("teacher", None, "610105", {"name": "x", "kind": "county", "parent_code": "610100"}, 403, "forbidden_role"),
    ("province_admin", "610000", "610500", {"kind": "city", "parent_code": "610000"}, 422, "validation_error"),
    ("province_admin", "610000", "610500", {"name": "  ", "kind": "city", "parent_code": "610000"},
     422, "validation_error"),
    ("province_admin", "610000", "610500", {"name": "x", "kind": "village", "parent_code": "610000"},
     422, "validation_error"),
    ("province_admin", "610000", "610500", {"name": 5, "kind": "city", "parent_code": 610000},
     422, "validation_error"),
])
async def test_refusals_write_nothing(as_role, epool, role, org_code, code, body, status, problem):
    if status is None:  # the one allowed case, to prove the table is not just refusing everything
        async with as_role(role, org_code) as c:
            assert (await c.put(f"/v1/orgs/{code}", json=body)).status_code == 201
        return
    before = (await count(epool), await epool.fetchval("SELECT count(*) FROM orgs"))
    async with as_role(role, org_code) as c:
        resp = await c.put(f"/v1/orgs/{code}", json=body)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM) and resp.json()["code"] == problem
    assert any("\u4e00" <= ch <= "\u9fff" for ch in resp.json()["title"])  # 中文 + English titles
    assert (await count(epool), await epool.fetchval("SELECT count(*) FROM orgs")) == before


async def test_reading_orgs_is_scoped(as_role):
    async with as_role("county_admin", "610102") as c:
        assert (await c.get("/v1/orgs/610102")).status_code == 200
        assert (await c.get("/v1/orgs/610100")).json()["code"] == "out_of_scope"
        assert (await c.get("/v1/orgs/610102999")).json()["code"] == "org_not_found"
    async with as_role("service") as c:
        assert (await c.get("/v1/orgs/610100")).status_code == 200
    async with as_role("teacher", sub=str(uuid.uuid4())) as c:
        assert (await c.get("/v1/orgs/610100")).status_code == 403


async def test_lists_page_through_children_and_subtrees(as_role, epool):
    await given(epool, "org-610600", org("610600", "宝鸡市", "city", "610000"))
    for i in range(1, 6):
        await given(epool, f"org-6106{i:02d}", org(f"6106{i:02d}", f"区{i}", "county", "610600"))
    async with as_role("city_admin", "610600") as c:
        first = (await c.get("/v1/orgs", params={"parent_code": "610600", "limit": 3})).json()
        second = (await c.get("/v1/orgs", params={"parent_code": "610600", "limit": 3,
                                                  "cursor": first["next_cursor"]})).json()
        subtree = (await c.get("/v1/orgs", params={"limit": 500})).json()
        assert (await c.get("/v1/orgs", params={"parent_code": "610000"})).status_code == 403
        assert (await c.get("/v1/orgs", params={"cursor": "%%%"})).json()["code"] == "bad_cursor"
    assert [o["code"] for o in first["items"]] == ["610601", "610602", "610603"]
    assert [o["code"] for o in second["items"]] == ["610604", "610605"] and second["next_cursor"] is None
    assert [o["code"] for o in subtree["items"]] == ["610600", "610601", "610602", "610603", "610604", "610605"]


async def test_hosts_are_registered_by_their_province_and_read_within_it(as_role, epool):
    host_id = str(uuid.uuid4())
    url = f"/v1/hosts/{host_id}"
    body = {"name": "陕西师范大学", "province_code": "610000"}
    async with as_role("province_admin", "610000") as c:
        created = await c.put(url, json=body)
        assert created.status_code == 201 and created.headers["ETag"] == '"1"'
        assert created.json() == {**body, "host_id": host_id, "version": 1}
        assert (await c.put(url, json=body)).headers["ETag"] == '"1"'
        assert (await c.put(url, json={**body, "name": "陕师大"})).headers["ETag"] == '"2"'
    assert await epool.fetchval("SELECT data FROM events WHERE stream_id = $1 AND version = 1",
                                f"host-{host_id}") == {**body, "host_id": host_id}
    for role, org_code in (("county_admin", "610102"), ("province_admin", "610000"), ("host", host_id),
                           ("service", None)):
        async with as_role(role, org_code) as c:
            got = await c.get(url)
            assert got.status_code == 200 and got.json()["name"] == "陕师大" and got.headers["ETag"] == '"2"'
    for role, org_code, code in (("host", str(uuid.uuid4()), "out_of_scope"), ("province_admin", "410000",
                                 "out_of_scope"), ("teacher", None, "forbidden_role")):
        async with as_role(role, org_code) as c:
            assert (await c.get(url)).json()["code"] == code
    async with as_role("service") as c:
        assert (await c.get(f"/v1/hosts/{uuid.uuid4()}")).json()["code"] == "host_not_found"


@pytest.mark.parametrize(("role", "org_code", "body", "status", "problem"), [
    ("province_admin", "410000", {"name": "x", "province_code": "610000"}, 403, "out_of_scope"),
    ("city_admin", "610100", {"name": "x", "province_code": "610000"}, 403, "forbidden_role"),
    ("host", "h", {"name": "x", "province_code": "610000"}, 403, "forbidden_role"),
    ("province_admin", "630000", {"name": "x", "province_code": "630000"}, 422, "province_not_found"),
    ("province_admin", "610000", {"province_code": "610000"}, 422, "validation_error"),
    ("province_admin", "610000", {"name": "x", "province_code": 610000}, 422, "validation_error"),
])
async def test_host_refusals_write_nothing(as_role, epool, role, org_code, body, status, problem):
    before = (await count(epool), await epool.fetchval("SELECT count(*) FROM hosts"))
    async with as_role(role, org_code) as c:
        resp = await c.put(f"/v1/hosts/{uuid.uuid4()}", json=body)
    assert resp.status_code == status and resp.json()["code"] == problem
    assert (await count(epool), await epool.fetchval("SELECT count(*) FROM hosts")) == before


async def test_a_host_cannot_move_to_another_province(as_role, epool):
    host_id = uuid.uuid4()
    await given(epool, f"host-{host_id}", ("HostRegistered", {"host_id": str(host_id), "name": "郑大",
                                                              "province_code": "410000"}))
    async with as_role("province_admin", "610000") as c:
        resp = await c.put(f"/v1/hosts/{host_id}", json={"name": "郑大", "province_code": "610000"})
    assert resp.status_code == 403 and await count(epool, f"host-{host_id}") == 1
