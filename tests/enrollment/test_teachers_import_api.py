"""POST /v1/teachers/import on the real app: a county's CSV roster (Chinese headings, a BOM, a multipart
upload), every bad row listed and nothing written, unusable files refused, 10,000 rows in one request.
"""

from __future__ import annotations

import time
from datetime import date

import pytest

from tests.enrollment import seed_teachers
from tests.enrollment.seed_teachers import EN, ZH, bad_check_digit, new_id, post, row, teacher, written
from tests.enrollment.test_national_id import make_id

roster_world = seed_teachers.roster_world  # module-scoped, autouse: the org tree and log capture


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
        lines = [EN, row(), row(nid=bad_check_digit()), row(school="610102999"), row(nid=twice), row(nid=twice),
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


async def test_a_person_registered_while_a_big_import_writes_refuses_the_whole_file(as_role, epool, enrollment_app):
    """A bulk import claims its people by COPY (pii.claim_identities): one of them registered by a
    transaction that commits while the import writes makes the import wait on the unique index,
    then refuses the file as a duplicate — 409, nothing written — as the INSERT path does."""
    import asyncio
    import uuid

    from services.enrollment import pii
    from services.enrollment.domain import national_id

    rows = 300
    assert rows >= pii.COPY_AT
    data = big_csv(rows)
    taken = data.decode().splitlines()[150].split(",")[1]  # one person in the middle of the file
    vault = pii.vault_for(enrollment_app.state)
    before = await written(epool)
    async with epool.acquire() as rival:
        tx = rival.transaction()
        await tx.start()
        await rival.execute(  # the other registration, not committed yet: the import's check cannot see it
            "INSERT INTO teacher_identities (teacher_id, name, national_id_hash, national_id_enc, national_id_masked,"
            " birth_date) VALUES ($1, '对手', $2, $3, 'x', $4)", uuid.uuid4(), vault.lookup(taken), b"sealed",
            national_id.parse(taken, date.today()).birth_date)
        async with as_role("county_admin", "610102") as c:
            importing = asyncio.create_task(
                post(c, "/v1/teachers/import", content=data, headers={"content-type": "text/csv"}))
            deadline = asyncio.get_running_loop().time() + 20
            while not await epool.fetchval(  # until the import waits on our index entry
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY%'"):
                assert not importing.done(), (await importing).text[:500]
                assert asyncio.get_running_loop().time() < deadline, "the import never waited on the rival"
                await asyncio.sleep(0.02)
            await tx.commit()
            resp = await importing
    assert resp.status_code == 409 and resp.json()["code"] == "teacher_exists", resp.text[:500]
    after = await written(epool)
    assert after == (before[0], before[1], before[2] + 1)  # only the rival's identity row
