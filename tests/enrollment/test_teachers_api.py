"""POST /v1/teachers, POST /v1/teachers/import and GET /v1/teachers/{id} on the real app.

Every national ID number this module issues is remembered in ISSUED; the last test scans the
event store, the idempotency records, every response body and the captured logs for them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
import time
import uuid
from datetime import date, timedelta

import pytest

from services.enrollment.pii import PiiVault
from tests.enrollment.given import given
from tests.enrollment.test_national_id import make_id

PROBLEM = "application/problem+json"
EN = "name,national_id,school_code,subject,stage,title,hired_on"
ZH = "序号,姓名,身份证号,学校代码,学科,学段,职称,入职日期"
ISSUED: set[str] = set()
BODIES: list[str] = []  # every response body of this module, for the PII scan
LOGS: list[str] = []  # every log record of this module, formatted with its extras
_serial = itertools.count(random.randrange(0, 10_000) * 100)


def new_id() -> str:
    n = next(_serial)
    born = (date(1960, 1, 1) + timedelta(days=n // 900)).strftime("%Y%m%d")
    number = make_id("610102", born, f"{n % 900 + 100:03d}")
    ISSUED.add(number)
    return number


def teacher(**over) -> dict:
    return {"name": "王芳", "national_id": new_id(), "school_code": "610102001", "subject": "数学",
            "stage": "初中", "title": "一级教师", "hired_on": "2010-09-01", **over}


def row(school="610102001", nid=None, name="李雷", hired="2012-09-01") -> str:
    return f"{name},{nid or new_id()},{school},语文,小学,二级教师,{hired}"


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        LOGS.append(f"{record.getMessage()} {record.exc_text or ''} {record.__dict__!r}")


@pytest.fixture(scope="module", autouse=True)
async def roster_world(enrollment_app, epool):
    assert enrollment_app.state.settings.pii_key, "tests/enrollment/conftest.py configures a PII key"
    for org in ("610000 province", "610100 city 610000", "610102 county 610100", "610102001 school 610102",
                "610102002 school 610102", "610103 county 610100", "610103001 school 610103"):
        code, kind, parent = (*org.split(), None)[:3]
        await given(epool, f"org-{code}", ("OrgRegistered", {"code": code, "name": code, "kind": kind,
                                                             "parent_code": parent}))
    root, handler, level = logging.getLogger(), _Collect(logging.DEBUG), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(handler)
    root.setLevel(level)


async def post(client, url, **kwargs):
    resp = await client.post(url, **kwargs)
    BODIES.append(resp.text)
    return resp


async def written(pool) -> tuple[int, int, int]:
    return (await pool.fetchval("SELECT count(*) FROM events"), await pool.fetchval("SELECT count(*) FROM teachers"),
            await pool.fetchval("SELECT count(*) FROM teacher_identities"))


async def test_registering_a_teacher_stores_the_number_protected_and_returns_it_masked(
        as_role, epool, enrollment_app):
    body = teacher()
    async with as_role("school_admin", "610102001") as c:
        resp = await post(c, "/v1/teachers", json=body)
    assert resp.status_code == 201, resp.text
    out = resp.json()
    tid = out["id"]
    assert resp.headers["Location"] == f"/v1/teachers/{tid}" and resp.headers["ETag"] == '"1"'
    assert out["national_id_masked"] == body["national_id"][:6] + "********" + body["national_id"][-4:]
    data = await epool.fetchval("SELECT data FROM events WHERE stream_id = $1", f"teacher-{tid}")
    assert data == {"teacher_id": tid, "school_code": "610102001", "subject": "数学", "stage": "初中",
                    "title": "一级教师", "hired_on": "2010-09-01"}
    ident = await epool.fetchrow("SELECT * FROM teacher_identities WHERE teacher_id = $1", uuid.UUID(tid))
    vault = PiiVault(enrollment_app.state.settings.pii_key)
    assert bytes(ident["national_id_hash"]) == vault.lookup(body["national_id"])
    assert vault.open(bytes(ident["national_id_enc"]), uuid.UUID(tid)) == body["national_id"]
    assert body["national_id"].encode() not in bytes(ident["national_id_enc"]) and ident["name"] == "王芳"


async def test_a_teacher_is_read_by_admins_in_scope_and_by_themself_only(as_role):
    async with as_role("county_admin", "610102") as c:
        tid = (await post(c, "/v1/teachers", json=teacher())).json()["id"]
    for role, org_code, sub in (("county_admin", "610102", None), ("school_admin", "610102001", None),
                                ("teacher", None, tid), ("service", None, None), ("auditor", "610000", None)):
        async with as_role(role, org_code, sub) as c:
            got = await c.get(f"/v1/teachers/{tid}")
            BODIES.append(got.text)
            assert got.status_code == 200 and got.json()["national_id_masked"].count("*") == 8
            assert got.headers["ETag"] == '"1"' and got.json()["name"] == "王芳"
    for role, org_code, sub, code in (("county_admin", "610103", None, "out_of_scope"),
                                      ("school_admin", "610102002", None, "out_of_scope"),
                                      ("teacher", None, str(uuid.uuid4()), "out_of_scope"),
                                      ("host", str(uuid.uuid4()), None, "forbidden_role")):
        async with as_role(role, org_code, sub) as c:
            assert (await c.get(f"/v1/teachers/{tid}")).json()["code"] == code
    async with as_role("service") as c:
        assert (await c.get(f"/v1/teachers/{uuid.uuid4()}")).json()["code"] == "teacher_not_found"


async def test_the_same_person_twice_is_409_even_typed_with_a_lowercase_x(as_role, epool):
    number = next(n for n in iter(new_id, None) if n.endswith("X"))
    async with as_role("county_admin", "610102") as c:
        assert (await post(c, "/v1/teachers", json=teacher(national_id=number))).status_code == 201
        before = await written(epool)
        again = await post(c, "/v1/teachers", json=teacher(national_id=number.lower(), school_code="610102002"))
    assert again.status_code == 409 and again.json()["code"] == "teacher_exists"
    assert await written(epool) == before


async def test_concurrent_registrations_of_one_person_record_one_teacher(as_role, epool):
    body = teacher()
    before = await written(epool)
    async with as_role("county_admin", "610102") as c:
        replies = await asyncio.gather(*(post(c, "/v1/teachers", json=body) for _ in range(8)))
    assert sorted(r.status_code for r in replies) == [201] + [409] * 7
    assert await written(epool) == tuple(n + 1 for n in before)


@pytest.mark.parametrize("csv", [False, True])
async def test_an_idempotent_retry_replays_the_same_teachers(as_role, epool, csv):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    url, kwargs = ("/v1/teachers/import", {"content": f"{EN}\n{row()}\n{row()}\n"}) if csv else \
        ("/v1/teachers", {"json": teacher()})
    if csv:
        headers["content-type"] = "text/csv"
    async with as_role("county_admin", "610102") as c:
        first = await post(c, url, headers=headers, **kwargs)
        before = await written(epool)
        again = await post(c, url, headers=headers, **kwargs)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true" and await written(epool) == before


@pytest.mark.parametrize(("role", "org_code", "body", "status", "code"), [
    ("county_admin", "610102", lambda: {**teacher(), "national_id": None}, 422, "validation_error"),
    ("county_admin", "610102", lambda: {k: v for k, v in teacher().items() if k != "hired_on"}, 422,
     "validation_error"),
    ("county_admin", "610102", lambda: teacher(hired_on=20100901), 422, "validation_error"),
    ("county_admin", "610102", lambda: teacher(national_id=610102198503121234), 422, "validation_error"),
    ("county_admin", "610102", lambda: teacher(name=["王芳"]), 422, "validation_error"),
    ("county_admin", "610102", lambda: teacher(national_id=new_id()[:17] + "0"), 422, "invalid_national_id"),
    ("county_admin", "610102", lambda: teacher(national_id=make_id(born="19990230")), 422, "invalid_national_id"),
    ("county_admin", "610102", lambda: teacher(national_id=new_id()[:16]), 422, "invalid_national_id"),
    ("county_admin", "610102", lambda: teacher(hired_on="2999-01-01"), 422, "invalid_teacher"),
    ("county_admin", "610102", lambda: teacher(subject=" "), 422, "invalid_teacher"),
    ("county_admin", "610102", lambda: teacher(school_code="610102999"), 422, "school_not_found"),
    ("county_admin", "610102", lambda: teacher(school_code="610102"), 422, "school_not_found"),
    ("county_admin", "610102", lambda: teacher(school_code="610103001"), 403, "out_of_scope"),
    ("school_admin", "610102002", lambda: teacher(), 403, "out_of_scope"),
    *[(role, org_code, teacher, 403, "forbidden_role") for role, org_code in
      (("teacher", None), ("auditor", "610000"), ("service", None), ("host", "h-1"))],
])
async def test_bad_registrations_are_problems_and_write_nothing(as_role, epool, role, org_code, body, status, code):
    payload = body()
    before = await written(epool)
    async with as_role(role, org_code) as c:
        resp = await post(c, "/v1/teachers", json=payload)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM) and resp.json()["code"] == code
    assert str(payload.get("national_id")) not in resp.text
    assert await written(epool) == before


async def test_without_a_pii_key_teacher_writes_are_refused_with_503(as_role, epool, enrollment_app):
    settings = enrollment_app.state.settings
    key, settings.pii_key = settings.pii_key, ""
    try:
        before = await written(epool)
        async with as_role("county_admin", "610102") as c:
            one = await post(c, "/v1/teachers", json=teacher())
            many = await post(c, "/v1/teachers/import", content=f"{EN}\n{row()}\n",
                              headers={"content-type": "text/csv"})
        assert one.status_code == many.status_code == 503
        assert one.json()["code"] == many.json()["code"] == "pii_key_missing"
        assert await written(epool) == before
    finally:
        settings.pii_key = key


async def test_a_county_spreadsheet_with_chinese_headings_and_a_bom_is_imported(as_role, epool):
    lines = [ZH] + [f"{i},张{i},{new_id()},610102002,物理,高中,,2015/9/1" for i in range(1, 26)]
    data = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()
    async with as_role("county_admin", "610102") as c:
        resp = await post(c, "/v1/teachers/import", files={"file": ("花名册.csv", data, "text/csv")})
    ids = resp.json()["teacher_ids"]
    assert resp.status_code == 201 and resp.json()["imported"] == 25 and len(set(ids)) == 25
    rows = await epool.fetch("SELECT hired_on, title FROM teachers WHERE id = ANY($1::uuid[])", ids)
    assert {(r["hired_on"], r["title"]) for r in rows} == {(date(2015, 9, 1), None)}
    assert await epool.fetchval("SELECT count(*) FROM events WHERE stream_id = ANY($1) AND version = 1",
                                [f"teacher-{i}" for i in ids]) == 25
    assert await epool.fetchval("SELECT count(*) FROM teacher_identities WHERE teacher_id = ANY($1::uuid[])",
                                ids) == 25


async def test_an_import_lists_every_bad_row_and_writes_nothing(as_role, epool):
    async with as_role("county_admin", "610102") as c:
        registered = teacher()
        assert (await post(c, "/v1/teachers", json=registered)).status_code == 201
        twice = new_id()
        lines = [EN, row(), row(nid=new_id()[:17] + "0"), row(school="610102999"), row(nid=twice), row(nid=twice),
                 row(school="610103001"), row(nid=registered["national_id"]), row(hired="2999-01-01"),
                 'x,"' + new_id() + '",610102001,,小学,,2012-09-01']
        before = await written(epool)
        resp = await post(c, "/v1/teachers/import", content="\n".join(lines) + "\n",
                          headers={"content-type": "text/csv; charset=utf-8"})
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_rows"
    got = [(e["line"], e["column"]) for e in resp.json()["errors"]]
    assert got == [(3, "national_id"), (4, "school_code"), (6, "national_id"), (7, "school_code"),
                   (8, "national_id"), (9, "hired_on"), (10, "subject")]
    assert all(e["reason"] for e in resp.json()["errors"]) and "第5行" in resp.json()["errors"][2]["reason"]
    assert await written(epool) == before


@pytest.mark.parametrize(("kwargs", "status", "code"), [
    ({"content": f"{ZH}\n1,王芳,{make_id()},610102001,数学,初中,,2010-09-01\n".encode("gbk"),
      "headers": {"content-type": "text/csv"}}, 422, "csv_not_utf8"),
    ({"content": b"", "headers": {"content-type": "text/csv"}}, 422, "csv_empty"),
    ({"content": b"a,b\n1,2\n", "headers": {"content-type": "text/csv"}}, 422, "csv_bad_header"),
    ({"content": b'{"rows": []}', "headers": {"content-type": "application/json"}}, 415, "unsupported_media_type"),
    ({"files": {"roster": ("r.csv", b"x", "text/csv")}}, 422, "csv_missing_file"),
    ({"content": b"x" * (20 * 1024 * 1024 + 1), "headers": {"content-type": "text/csv"}}, 413, "payload_too_large"),
    ({"files": {"file": ("r.csv", b"x" * (20 * 1024 * 1024 + 1), "text/csv")}}, 413, "payload_too_large"),
    ({"content": b"x" * (21 * 1024 * 1024), "headers": {"content-type": "text/csv"}}, 413, "payload_too_large"),
])
async def test_unusable_files_are_refused_and_write_nothing(as_role, epool, kwargs, status, code):
    before = await written(epool)
    async with as_role("county_admin", "610102") as c:
        resp = await c.post("/v1/teachers/import", **kwargs)
    assert resp.status_code == status and resp.json()["code"] == code, resp.text
    if code == "csv_not_utf8":
        assert "UTF-8" in resp.json()["detail"] and "另存为" in resp.json()["detail"]
    assert await written(epool) == before


def big_csv(n: int, bad_line: int | None = None) -> bytes:
    lines = [EN]
    for line in range(2, n + 2):
        nid = new_id()
        lines.append(row(nid=nid[:17] + ("1" if nid[17] == "0" else "0") if line == bad_line else nid,
                         school=("610102001", "610102002")[line % 2]))
    return ("\n".join(lines) + "\n").encode()


async def test_ten_thousand_rows_import_in_one_request(as_role, epool):
    data = big_csv(10_000)
    before = await written(epool)
    async with as_role("county_admin", "610102") as c:
        started = time.perf_counter()
        resp = await post(c, "/v1/teachers/import", content=data, headers={"content-type": "text/csv"})
        elapsed = time.perf_counter() - started
    assert resp.status_code == 201 and resp.json()["imported"] == 10_000, resp.text[:500]
    assert await written(epool) == tuple(n + 10_000 for n in before)
    print(f"\n10,000-row import: {elapsed:.2f} s")
    assert elapsed < 30, f"10k import took {elapsed:.1f}s"


async def test_one_bad_row_in_ten_thousand_names_its_line_and_writes_nothing(as_role, epool):
    data = big_csv(10_000, bad_line=5001)
    before = await written(epool)
    async with as_role("county_admin", "610102") as c:
        resp = await post(c, "/v1/teachers/import", content=data, headers={"content-type": "text/csv"})
    assert resp.status_code == 422
    assert [(e["line"], e["field"]) for e in resp.json()["errors"]] == [(5001, "national_id")]
    assert await written(epool) == before


async def test_no_national_id_number_reaches_events_responses_or_logs(as_role, epool):
    async with as_role("county_admin", "610102") as c:
        assert (await post(c, "/v1/teachers", json=teacher(), headers={"Idempotency-Key": "pii-1"})).status_code == 201
        bad = teacher(national_id=new_id()[:17] + "0")
        assert (await post(c, "/v1/teachers", json=bad)).status_code == 422
        csv = f"{EN}\n{row()}\n{row()}\n".encode()
        headers = {"content-type": "text/csv", "Idempotency-Key": "pii-2"}
        assert (await post(c, "/v1/teachers/import", content=csv, headers=headers)).status_code == 201
    stored = await epool.fetch("SELECT data::text || metadata::text AS t FROM events")
    replays = await epool.fetch("SELECT convert_from(body, 'UTF8') AS t FROM idempotency_keys")
    tables = await epool.fetch("SELECT t::text FROM teachers t UNION ALL SELECT t::text FROM teacher_identities t")
    haystack = "\n".join([*(r["t"] for r in stored), *(r["t"] for r in replays), *(r["t"] for r in tables),
                          *BODIES, *LOGS])
    # Ciphertexts and hashes render as hex and may hold digit runs by chance: look for ours.
    found = {n.upper() for n in re.findall(r"\d{17}[\dXx]", haystack)}
    assert len(ISSUED) >= 4 and BODIES and any("HTTP Request" in line for line in LOGS)
    assert not (found & ISSUED), "a national ID number was stored in clear, returned or logged"
