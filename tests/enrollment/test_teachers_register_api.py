"""POST /v1/teachers and GET /v1/teachers/{id} on the real app: the national ID number stored protected
and returned masked, scopes, duplicates, idempotent retries, bad input, a missing PII key.

The last test scans the event store, the idempotency records, every response body and the captured
logs for the national ID numbers issued (seed_teachers.ISSUED, also those of test_teachers_import_api).
"""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from services.enrollment.pii import PiiVault
from tests.enrollment import seed_teachers
from tests.enrollment.seed_teachers import (
    BODIES,
    EN,
    ISSUED,
    LOGS,
    PROBLEM,
    bad_check_digit,
    new_id,
    post,
    row,
    teacher,
    written,
)
from tests.enrollment.test_national_id import make_id

roster_world = seed_teachers.roster_world  # module-scoped, autouse: the org tree and log capture


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
    ("county_admin", "610102", lambda: teacher(national_id=bad_check_digit()), 422, "invalid_national_id"),
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


async def test_no_national_id_number_reaches_events_responses_or_logs(as_role, epool):
    async with as_role("county_admin", "610102") as c:
        assert (await post(c, "/v1/teachers", json=teacher(), headers={"Idempotency-Key": "pii-1"})).status_code == 201
        bad = teacher(national_id=bad_check_digit())
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
