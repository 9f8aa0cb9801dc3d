"""POST /v1/orgs/import on the real enrollment app (PostgreSQL + NATS): a school list from a
spreadsheet, all or nothing, each row judged as PUT /v1/orgs/{code} judges it."""

from __future__ import annotations

import pytest

from services.enrollment.projector.orgs import _org as upsert_one
from services.enrollment.projector.orgs import _orgs as upsert_run
from shared.inline import Pending
from tests.enrollment.given import given

URL = "/v1/orgs/import"


@pytest.fixture(scope="module", autouse=True)
async def hubei(epool):
    # Given: 湖北省 → 武汉市 → 江岸区 (every test below imports under it).
    for code, name, kind, parent in (("420000", "湖北省", "province", None), ("420100", "武汉市", "city", "420000"),
                                     ("420102", "江岸区", "county", "420100")):
        await given(epool, f"org-{code}", ("OrgRegistered", {"code": code, "name": name, "kind": kind,
                                                             "parent_code": parent}))


async def _orgs(epool, codes):
    rows = await epool.fetch("SELECT code, name, kind, parent_code, version FROM orgs WHERE code = ANY($1)"
                             " ORDER BY code", codes)
    return [tuple(r) for r in rows]


async def _events(epool, prefix="org-42") -> int:
    return await epool.fetchval("SELECT count(*) FROM events WHERE stream_id LIKE $1 || '%'", prefix)


async def test_a_county_imports_its_school_list_with_chinese_headings_in_gb18030(as_role, epool):
    sheet = "学校代码,学校名称\n420102001,江岸区第一中学\n420102002,江岸区实验小学\n"
    async with as_role("county_admin", "420102") as c:
        r = await c.post(URL, files={"file": ("学校名单.csv", sheet.encode("gb18030"), "text/csv")})
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 2, "registered": 2, "renamed": 0, "unchanged": 0}
    assert await _orgs(epool, ["420102001", "420102002"]) == [
        ("420102001", "江岸区第一中学", "school", "420102", 1), ("420102002", "江岸区实验小学", "school", "420102", 1)]
    # The event a PUT of the same org records (domain/orgs.decide_register_org judged both).
    assert await epool.fetchval("SELECT data FROM events WHERE stream_id = 'org-420102001'") == {
        "code": "420102001", "name": "江岸区第一中学", "kind": "school", "parent_code": "420102"}


async def test_parents_in_the_same_file_come_first_whatever_the_order(as_role, epool):
    sheet = ("code,name,kind,parent_code\n"
             "420103001,江汉区第一中学,school,420103\n"  # its county is two lines down
             "420104,硚口区,county,\n"  # kind and parent may be left to the code's shape
             "420103,江汉区,区县,420100\n"
             "420104001,硚口区第一中学,,\n")
    async with as_role("city_admin", "420100") as c:
        r = await c.post(URL, content=sheet.encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 4, "registered": 4, "renamed": 0, "unchanged": 0}
    assert await _orgs(epool, ["420103", "420103001", "420104", "420104001"]) == [
        ("420103", "江汉区", "county", "420100", 1), ("420103001", "江汉区第一中学", "school", "420103", 1),
        ("420104", "硚口区", "county", "420100", 1), ("420104001", "硚口区第一中学", "school", "420104", 1)]


async def test_a_repeat_changes_nothing_and_a_new_name_renames(as_role, epool):
    first = "code,name\n420102011,江岸区育才小学\n420102012,江岸区育才中学\n"
    async with as_role("county_admin", "420102") as c:
        assert (await c.post(URL, content=first.encode())).json()["registered"] == 2
        before = await _events(epool)
        again = await c.post(URL, content=first.encode())
        assert again.json() == {"rows": 2, "registered": 0, "renamed": 0, "unchanged": 2}
        assert await _events(epool) == before
        renamed = await c.post(URL, content="code,name\n420102011,江岸区育才第一小学\n"
                                            "420102013,江岸区育才幼儿园\n".encode())
    assert renamed.json() == {"rows": 2, "registered": 1, "renamed": 1, "unchanged": 0}
    assert await _orgs(epool, ["420102011"]) == [("420102011", "江岸区育才第一小学", "school", "420102", 2)]
    assert await _events(epool) == before + 2


async def test_bad_rows_are_reported_by_line_and_nothing_is_written(as_role, epool):
    sheet = ("code,name,kind,parent_code\n"
             "420102021,江岸区新华小学,school,420102\n"  # good, but the file fails
             "4201020X1,坏代码,school,420102\n"  # not digits: unreadable
             "420102022,,school,420102\n"  # no name: unreadable
             "420102023,江岸区星火小学,school,420103\n"  # the code's shape says 420102
             "420199001,无区县小学,school,420199\n"  # its county is registered nowhere
             "420102021,江岸区新华小学,school,420102\n"  # the same org twice
             "430102001,湖南的学校,school,430102\n"  # outside the city's jurisdiction
             "420102024,江岸区\u202e小学,school,420102\n")  # a bidi control character
    before = await _events(epool)
    async with as_role("city_admin", "420100") as c:
        r = await c.post(URL, content=sheet.encode())
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    doc = r.json()
    assert doc["code"] == "invalid_rows"
    assert [(e["line"], e.get("code")) for e in doc["errors"]] == [
        (3, None), (4, None), (5, "invalid_parent"), (6, "parent_not_found"), (7, "duplicate_row"), (8, "out_of_scope"),
        (9, None)]
    assert await _events(epool) == before
    assert await _orgs(epool, ["420102021"]) == []


async def test_file_level_faults_and_who_may_import(as_role):
    async with as_role("county_admin", "420102") as c:
        for body, code in ((b"code\n420102031\n", "bad_csv"), (b"code,name,code\n1,a,1\n", "bad_csv"),
                           (b"\xff\xfe\x00bad", "bad_csv"), (b"code,name\n", "invalid_rows")):
            r = await c.post(URL, content=body)
            assert (r.status_code, r.json()["code"]) == (422, code), (body, r.text)
    async with as_role("school_admin", "420102001") as c:
        r = await c.post(URL, content=b"code,name\n420102041,x\n")
        assert (r.status_code, r.json()["code"]) == (403, "forbidden_role")


async def test_a_rebuild_of_the_read_model_equals_the_imported_tree(as_role, epool):
    """The bulk handler writes what the one-by-one upserts would, a rename in the same run included."""
    async with as_role("county_admin", "420102") as c:
        await c.post(URL, content="code,name\n420102051,江岸区一小\n420102052,江岸区二小\n".encode())
        await c.post(URL, content="code,name\n420102051,江岸区第一小学\n".encode())
    rows = await epool.fetch("SELECT stream_id, version, type, data FROM events WHERE stream_id = ANY($1)"
                             " ORDER BY position", ["org-420102051", "org-420102052"])
    events = [Pending(r["stream_id"], r["version"], r["type"], r["data"]) for r in rows]
    live = await _orgs(epool, ["420102051", "420102052"])
    codes = ["420102051", "420102052"]
    read = "SELECT code, name, kind, parent_code, version FROM orgs WHERE code = ANY($1) ORDER BY code"
    async with epool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM orgs WHERE code = ANY($1)", codes)
        await upsert_run(conn, events)
        in_bulk = [tuple(r) for r in await conn.fetch(read, codes)]
        await conn.execute("DELETE FROM orgs WHERE code = ANY($1)", codes)
        for e in events:
            await upsert_one(conn, e.stream_id, e.version, e.data)
        one_by_one = [tuple(r) for r in await conn.fetch(read, codes)]
    assert in_bulk == one_by_one == live == [("420102051", "江岸区第一小学", "school", "420102", 2),
                                             ("420102052", "江岸区二小", "school", "420102", 1)]
