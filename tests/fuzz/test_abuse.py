"""Abuse (issue 9): oversized bodies and uploads, malformed and non-UTF-8 CSV, huge and negative
numbers, SQL metacharacters and control characters in names, invalid national IDs, dates out of
range. Every refusal is a 4xx application/problem+json with a stable `code`, and nothing is
written: the event stores and the tables the routes write are counted before and after.

Real enrollment, credits and funding apps (own databases, one NATS namespace), a small world
seeded through the API. Body limits: shared/limits.py (1 MiB per request, 21 MiB for upload
routes); text and date rules: shared/inputs.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest

from services.enrollment.domain.national_id import check_char
from shared.devkeys import mint_token
from tests.conftest import eventually
from tests.funding.given import assessed

pytestmark = pytest.mark.timeout(300)

PROVINCE, CITY, COUNTY, SCHOOL = "610000", "610100", "610102", "610102001"
PROBLEM = "application/problem+json"
MiB = 1024 * 1024
YEAR = date.today().year + 2  # projects run ahead of today: the plan deadlines are still open
ROSTER = "name,national_id,school_code,subject,stage,title,hired_on"
TABLES = {
    "enrollment": ("events", "teachers", "teacher_identities", "orgs", "hosts", "projects", "project_quotas",
                   "enrollments", "attendance", "close_out_materials", "idempotency_keys"),
    "credits": ("events", "claims", "policies", "idempotency_keys"),
    "funding": ("events", "funding_policies", "funding_accounts", "funding_entries", "idempotency_keys"),
}


def national_id(seq: int, born: str = "19850101") -> str:
    head = f"610102{born}{seq % 1000:03d}"
    return head + check_char(head)


@dataclass
class World:
    apps: dict[str, Any]
    keys_dir: Any
    ids: dict[str, str] = field(default_factory=dict)
    seq: int = 100

    def client(self, service: str, role: str = "province_admin", org: str | None = PROVINCE,
               sub: str | None = None) -> httpx.AsyncClient:
        token = mint_token(self.keys_dir, role, org=org, sub=sub)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.apps[service]), base_url=f"http://{service}",
                                 headers={"Authorization": f"Bearer {token}"}, timeout=60)

    async def call(self, service: str, method: str, url: str, *, role: tuple = ("province_admin", PROVINCE),
                   **kwargs) -> httpx.Response:
        async with self.client(service, *role) as c:
            return await c.request(method, url, **kwargs)

    async def ok(self, service: str, method: str, url: str, **kwargs) -> dict:
        resp = await self.call(service, method, url, **kwargs)
        assert resp.status_code in (200, 201), f"{method} {url}: {resp.status_code} {resp.text}"
        return resp.json()

    async def counts(self) -> dict[str, int]:
        await assessed(self.apps["funding"].state.pool)  # funding's verdicts in reaction to earlier commands
        out = {}
        for service, tables in TABLES.items():
            async with self.apps[service].state.pool.acquire() as conn:
                for table in tables:
                    out[f"{service}.{table}"] = await conn.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
        return out

    def teacher(self, **changes) -> dict:
        self.seq += 1
        return {"name": "王芳", "national_id": national_id(self.seq), "school_code": SCHOOL, "subject": "数学",
                "stage": "初中", "title": "一级教师", "hired_on": "2010-09-01", **changes}

    def roster_row(self, name: str = "李雷", nid: str | None = None, hired: str = "2012-09-01") -> str:
        self.seq += 1
        return f"{name},{nid or national_id(self.seq)},{SCHOOL},语文,小学,,{hired}"


def refused(resp: httpx.Response, status: int, code: str | Iterable[str]) -> dict:
    codes = {code} if isinstance(code, str) else set(code)
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith(PROBLEM), resp.headers
    doc = resp.json()
    assert doc["code"] in codes and doc["status"] == status and doc["title"], doc
    return doc


@pytest.fixture(scope="module")
async def world(launch, keys_dir):
    async with launch("enrollment") as enrollment, launch("credits") as credits, launch("funding") as funding:
        w = World({"enrollment": enrollment, "credits": credits, "funding": funding}, keys_dir)
        for code, name, kind, parent in ((PROVINCE, "陕西省", "province", None), (CITY, "西安市", "city", PROVINCE),
                                         (COUNTY, "新城区", "county", CITY),
                                         (SCHOOL, "新城区第一中学", "school", COUNTY)):
            await w.ok("enrollment", "PUT", f"/v1/orgs/{code}", json={"name": name, "kind": kind,
                                                                       "parent_code": parent})
        w.ids["host"] = str(uuid.uuid4())
        await w.ok("enrollment", "PUT", f"/v1/hosts/{w.ids['host']}", json={"name": "陕西师范大学",
                                                                             "province_code": PROVINCE})
        w.ids["teacher"] = (await w.ok("enrollment", "POST", "/v1/teachers", json=w.teacher()))["id"]
        w.ids["project"] = pid = (await w.ok("enrollment", "POST", "/v1/projects", json={
            "code": "SX-ABUSE-1", "name": "市级骨干教师培训", "level": "municipal", "category": "骨干教师",
            "year": YEAR, "host_id": w.ids["host"], "organizer_code": CITY, "hours": 90,
            "hour_category": "centralized", "starts_on": f"{YEAR}-05-01", "ends_on": f"{YEAR}-05-10",
            "practical_ratio": 0.6, "modules": [{"name": "师德师风", "hours": 6, "kind": "ethics"},
                                                {"name": "跟岗实践", "hours": 60, "practical": True}]}))["id"]
        for action in ("submit-plan", "approve", "open"):
            await w.ok("enrollment", "POST", f"/v1/projects/{pid}/{action}")
        await w.ok("enrollment", "PUT", f"/v1/projects/{pid}/quotas/{COUNTY}", json={"places": 5})
        w.ids["enrollment"] = eid = (await w.ok("enrollment", "POST", f"/v1/projects/{pid}/nominations", json={
            "teacher_id": w.ids["teacher"], "region_code": COUNTY}))["enrollment_id"]
        await w.ok("enrollment", "POST", f"/v1/enrollments/{eid}/check-in")
        await w.ok("enrollment", "POST", f"/v1/projects/{pid}/start")
        await w.ok("credits", "PUT", f"/v1/policies/{PROVINCE}", json={
            "effective_from": "2020-01-01", "hours_per_credit": "10", "annual_hours": "72", "cycle_years": 5,
            "cycle_start_year": 2020, "cycle_hours": "360"})

        async def funding_knows_the_tree() -> bool:
            resp = await w.call("funding", "PUT", f"/v1/orgs/{PROVINCE}/budgets/{YEAR}", json={
                "public_funds_budget_fen": 10_000_000, "payroll_fen": 50_000_000, "training_budget_fen": 500_000})
            return resp.status_code in (200, 201)

        async def credits_knows_the_teacher() -> bool:
            resp = await w.call("credits", "GET", f"/v1/teachers/{w.ids['teacher']}/transcript")
            return resp.status_code == 200

        await eventually(funding_knows_the_tree, timeout=60, message="funding has the org tree")
        await eventually(credits_knows_the_teacher, timeout=60, message="credits knows the teacher")
        yield w


# --- oversized bodies ------------------------------------------------------------------------

async def asgi_post(world: World, path: str, headers: list[tuple[bytes, bytes]], chunks: Iterable[bytes],
                    method: str = "POST"):
    """A request straight through enrollment's ASGI app, its body pulled chunk by chunk; returns
    (status, headers, body, bytes of the request body the app pulled)."""
    pulled = 0
    source = iter(chunks)
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        chunk = next(source, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    token = mint_token(world.keys_dir, "province_admin", org=PROVINCE)
    scope = {"type": "http", "http_version": "1.1", "method": method, "path": path, "raw_path": path.encode(),
             "root_path": "", "scheme": "http", "query_string": b"", "server": ("enrollment", 80),
             "client": ("127.0.0.1", 5000), "headers": [*headers, (b"authorization", f"Bearer {token}".encode())]}
    await world.apps["enrollment"](scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body, pulled


def endless(chunk: bytes) -> Iterable[bytes]:
    while True:
        yield chunk


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/teachers"), ("POST", "/v1/projects"),
                                              ("PUT", "/v1/orgs/610102002"), ("GET", "/v1/projects")])
async def test_a_declared_oversized_json_body_is_refused_before_a_byte_is_read(world, method, path):
    before = await world.counts()
    status, headers, body, pulled = await asgi_post(
        world, path, [(b"content-type", b"application/json"), (b"content-length", b"2097152")],
        endless(b" " * 65536), method)
    assert status == 413 and headers[b"content-type"].startswith(PROBLEM.encode())
    doc = json.loads(body)
    assert doc["code"] == "payload_too_large" and doc["limit"] == MiB and "1 MiB" in doc["detail"]
    assert pulled == 0, "the body was read although its declared length was over the limit"
    assert await world.counts() == before


async def test_a_chunked_oversized_json_body_is_cut_off_at_the_limit(world):
    before = await world.counts()
    status, headers, body, pulled = await asgi_post(
        world, "/v1/teachers", [(b"content-type", b"application/json")],
        endless(b'{"name": "' + b"x" * 65536))
    assert status == 413 and json.loads(body)["code"] == "payload_too_large"
    assert MiB < pulled <= MiB + 65536 + 16, pulled  # stopped at the first chunk past 1 MiB
    assert await world.counts() == before


async def test_an_oversized_json_body_sent_normally_is_a_413_problem(world):
    before = await world.counts()
    resp = await world.call("enrollment", "POST", "/v1/teachers", json=world.teacher(title="x" * (MiB + 10)))
    refused(resp, 413, "payload_too_large")
    assert await world.counts() == before


async def test_an_upload_is_refused_up_front_past_the_upload_limit(world):
    before = await world.counts()
    for path in ("/v1/teachers/import", f"/v1/projects/{world.ids['project']}/attendance/import",
                 "/v1/orgs/import"):
        status, _, body, pulled = await asgi_post(
            world, path, [(b"content-type", b"text/csv"), (b"content-length", b"31457280")],
            endless(b"a" * 65536))
        assert status == 413 and json.loads(body)["limit"] == 21 * MiB and pulled == 0, (path, body)
    assert await world.counts() == before


async def test_upload_routes_take_files_above_the_json_limit(world):
    # 1.5 MiB of blank rows: past the 1 MiB default, so only the upload limit lets it through to the parser.
    data = (ROSTER + "\n" + ",,,,,,\n" * (3 * MiB // 14)).encode()
    assert len(data) > 1.4 * MiB
    before = await world.counts()
    resp = await world.call("enrollment", "POST", "/v1/teachers/import", content=data,
                            headers={"content-type": "text/csv"})
    refused(resp, 422, "csv_empty")
    # The attendance import's own file limit is 5 MiB: refused by the route, after the body limit let it in.
    big = b"enrollment_id,session_date,status,hours\n" + b",,,\n" * (6 * MiB // 4)
    resp = await world.call("enrollment", "POST", f"/v1/projects/{world.ids['project']}/attendance/import",
                            content=big, headers={"content-type": "text/csv"})
    refused(resp, 413, "payload_too_large")
    assert await world.counts() == before


# --- CSV files -------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "code"), [
    # A quote never closed: the rest of the file is one cell, so the row lacks its columns.
    ((ROSTER + '\n"王芳,610102198501011234,610102001,数学,初中,,2010-09-01\n').encode(), "invalid_rows"),
    # A cell past the csv module's 128 KiB field limit.
    ((ROSTER + "\n" + "x" * 200_000 + ",1,2,3,4,5,6\n").encode(), "csv_malformed"),
    # NUL bytes and an escape in cells that are stored.
    ((ROSTER + "\n王\x00芳,{nid},610102001,数学,初中,,2010-09-01\n").encode(), "invalid_rows"),
    ((ROSTER + "\n王芳,{nid},610102001,数\x1b[31m学,初中,,2010-09-01\n").encode(), "invalid_rows"),
    # Latin-1 and GBK bytes: the roster import reads UTF-8 only and says how to save it.
    ((ROSTER + "\nJos\xe9,{nid},610102001,x,y,,2010-09-01\n").encode("latin-1"), "csv_not_utf8"),
    ((ROSTER + "\n王芳,{nid},610102001,数学,初中,,2010-09-01\n").encode("gbk"), "csv_not_utf8"),
    (b"\xff\xfe" + (ROSTER + "\n").encode("utf-16-le"), "csv_not_utf8"),
])
async def test_malformed_and_non_utf8_roster_files_are_refused(world, data, code):
    data = data.replace(b"{nid}", national_id(world.seq + 500).encode())
    world.seq += 1
    before = await world.counts()
    resp = await world.call("enrollment", "POST", "/v1/teachers/import", content=data,
                            headers={"content-type": "text/csv"})
    doc = refused(resp, 422, code)
    if code == "invalid_rows":
        assert doc["errors"] and all(e["line"] == 2 and e["reason"] for e in doc["errors"])
    if code == "csv_not_utf8":
        assert "UTF-8" in doc["detail"]
    assert await world.counts() == before


@pytest.mark.parametrize("data", [
    "机构代码,机构名称\n610102077," + "校" * 200_000 + "\n",  # a cell past the csv module's field limit
    '机构代码,机构名称\n610102077,"never closed\n610102078,x\n',  # the rest of the file one cell: no code
    "机构代码,机构名称\n610102077,a\x00b\n",  # NUL in a name that would be stored
])
async def test_malformed_org_files_are_refused_whole(world, data):
    before = await world.counts()
    resp = await world.call("enrollment", "POST", "/v1/orgs/import", content=data.encode(),
                            headers={"content-type": "text/csv"})
    assert resp.status_code == 422 and resp.json()["code"] in ("bad_csv", "invalid_rows"), resp.text
    assert await world.counts() == before


async def test_a_gbk_attendance_file_from_excel_is_read(world):
    """The attendance import reads GB18030 (what Excel in China saves): Chinese headings and
    statuses decode, and the row is recorded exactly as from the UTF-8 file."""
    csv_text = f"报名编号,日期,出勤状态,学时\r\n{world.ids['enrollment']},{YEAR}/05/02,出勤,6\r\n"
    before = await world.counts()
    url = f"/v1/projects/{world.ids['project']}/attendance/import"
    resp = await world.call("enrollment", "POST", url, content=csv_text.encode("gbk"),
                            headers={"content-type": "text/csv"})
    assert resp.status_code == 200 and resp.json()["recorded"] == 1, resp.text
    async with world.apps["enrollment"].state.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, hours FROM attendance WHERE enrollment_id = $1",
                                  uuid.UUID(world.ids["enrollment"]))
    assert row["status"] == "present" and float(row["hours"]) == 6
    assert (await world.counts())["enrollment.events"] == before["enrollment.events"] + 1
    # Bytes that are neither UTF-8 nor GB18030, and a cell past the field limit: 422, nothing written.
    before = await world.counts()
    long_cell = b"enrollment_id,session_date,status,hours\n" + b"x" * 200_000 + f",{YEAR}-05-02,present,1\n".encode()
    for data, detail in ((b"\xff\xff\xff\n", "GB18030"), (long_cell, "malformed")):
        resp = await world.call("enrollment", "POST", url, content=data, headers={"content-type": "text/csv"})
        assert detail in refused(resp, 422, "bad_csv")["detail"]
    assert await world.counts() == before


# --- numbers ---------------------------------------------------------------------------------

HUGE = 10**30


def number_cases(world: World) -> list[tuple[str, str, str, Any]]:
    """(service, method, url, body) with a huge, negative or non-finite number in a numeric field."""
    project, eid = world.ids["project"], world.ids["enrollment"]
    project_body = {"code": "SX-N", "name": "n", "level": "county", "category": "c", "year": YEAR,
                    "organizer_code": CITY, "hour_category": "centralized", "starts_on": f"{YEAR}-05-01",
                    "ends_on": f"{YEAR}-05-10", "practical_ratio": 0.5}
    out = []
    for n in (HUGE, -HUGE, -1, 2**63, "NaN", "Infinity", 1e308):
        raw = n if isinstance(n, str) else json.dumps(n)  # NaN and Infinity as the bare literals Python's JSON reads
        out += [
            ("enrollment", "PUT", f"/v1/projects/{project}/quotas/{COUNTY}", f'{{"places": {raw}}}'),
            ("enrollment", "POST", "/v1/projects", json.dumps(project_body)[:-1] + f', "hours": {raw}}}'),
            ("enrollment", "POST", f"/v1/enrollments/{eid}/attendance",
             f'{{"session_date": "{YEAR}-05-03", "status": "present", "hours": {raw}}}'),
            ("enrollment", "POST", f"/v1/projects/{project}/bulletins",
             f'{{"issue_no": {raw}, "title": "t", "published_on": "2024-01-01"}}'),
            ("enrollment", "PUT", f"/v1/projects/{project}/quotas/{CITY}/splits/{COUNTY}", f'{{"places": {raw}}}'),
            ("enrollment", "POST", f"/v1/projects/{project}/close-out-materials",
             f'{{"kind": "case", "title": "t", "count": {raw}}}'),
            ("credits", "POST", "/v1/claims", f'{{"teacher_id": "{world.ids["teacher"]}", "hours": {raw}, '
                                              '"category": "c", "source": "other", "earned_on": "2024-01-01", '
                                              '"evidence": "e"}'),
            ("funding", "POST", "/v1/disbursements",
             f'{{"org_code": "{PROVINCE}", "year": {YEAR}, "amount_fen": {raw}, "purpose": "培训课时费"}}'),
            ("funding", "PUT", f"/v1/orgs/{PROVINCE}/budgets/{YEAR}",
             f'{{"public_funds_budget_fen": {raw}, "payroll_fen": 1, "training_budget_fen": 1}}'),
            ("funding", "PUT", f"/v1/policies/{CITY}", f'{{"effective_from": "2024-01-01", "pass_down_min": {raw}}}'),
        ]
    return out


async def test_huge_negative_and_non_finite_numbers_are_422_and_write_nothing(world):
    before = await world.counts()
    for service, method, url, body in number_cases(world):
        resp = await world.call(service, method, url, content=body.encode(),
                                headers={"content-type": "application/json"})
        assert resp.status_code == 422, (service, url, body, resp.status_code, resp.text[:300])
        # The project's hours have no schema bound: the domain's rule answers (0 < hours <= its maximum).
        assert resp.headers["content-type"].startswith(PROBLEM)
        assert resp.json()["code"] in ("validation_error", "hours_out_of_range"), (url, body, resp.text[:300])
    for url in ("/v1/projects?limit=1000000000000000000000000000000", "/v1/enrollments?limit=-1",
                "/v1/orgs?limit=9223372036854775808"):
        refused(await world.call("enrollment", "GET", url), 422, "validation_error")
    refused(await world.call("enrollment", "GET", f"/v1/events?after={HUGE}", role=("service", None)), 422,
            "validation_error")
    assert await world.counts() == before


# --- text ------------------------------------------------------------------------------------

SQL = "'; DROP TABLE teachers; --"


async def test_sql_metacharacters_are_just_text_and_round_trip(world):
    before = await world.counts()
    made = await world.ok("enrollment", "POST", "/v1/teachers", json=world.teacher(name=SQL, title='" OR 1=1 --'))
    got = await world.ok("enrollment", "GET", f"/v1/teachers/{made['id']}")
    assert got["name"] == SQL and got["title"] == '" OR 1=1 --'
    await world.ok("enrollment", "PUT", "/v1/orgs/610102099", json={"name": "Robert'); DROP TABLE orgs;--",
                                                                     "kind": "school", "parent_code": COUNTY})
    assert (await world.ok("enrollment", "GET", "/v1/orgs/610102099"))["name"] == "Robert'); DROP TABLE orgs;--"
    after = await world.counts()  # the tables are still there, with exactly one more teacher and org
    assert after["enrollment.teachers"] == before["enrollment.teachers"] + 1
    assert after["enrollment.orgs"] == before["enrollment.orgs"] + 1
    # In filters they match nothing rather than everything.
    for url in ("/v1/projects?region=' OR '1'='1", "/v1/enrollments?region_code=' OR '1'='1"):
        assert (await world.ok("enrollment", "GET", url))["items"] == []


async def test_ordinary_and_ideographic_spaces_in_names_are_fine(world):
    made = await world.ok("enrollment", "POST", "/v1/teachers", json=world.teacher(name="欧阳\u3000娜娜 Li"))
    assert (await world.ok("enrollment", "GET", f"/v1/teachers/{made['id']}"))["name"] == "欧阳\u3000娜娜 Li"


CONTROL = ["王\x00芳", "王\x1b[2J芳", "\u202e芳王", "王\t芳", "王\n芳", "王\u200b芳", "王\x85芳", "王\u2028芳"]


@pytest.mark.parametrize("name", CONTROL, ids=[f"U+{next(ord(c) for c in n if not c.isalnum()):04X}" for n in CONTROL])
async def test_control_characters_in_a_teacher_name_are_refused(world, name):
    before = await world.counts()
    doc = refused(await world.call("enrollment", "POST", "/v1/teachers", json=world.teacher(name=name)), 422,
                  "invalid_teacher")
    assert [e["field"] for e in doc["errors"]] == ["name"] and "control" in doc["errors"][0]["reason"]
    csv_data = f"{ROSTER}\n{world.roster_row(name=name.replace(chr(10), ' '))}\n".encode()
    if "\n" not in name:  # a line break ends the CSV row instead
        doc = refused(await world.call("enrollment", "POST", "/v1/teachers/import", content=csv_data,
                                       headers={"content-type": "text/csv"}), 422, "invalid_rows")
        assert [(e["line"], e["field"]) for e in doc["errors"]] == [(2, "name")]
    assert await world.counts() == before


async def test_control_characters_are_refused_in_every_kind_of_text(world):
    project, eid, teacher = world.ids["project"], world.ids["enrollment"], world.ids["teacher"]
    claim = {"teacher_id": teacher, "hours": "2", "category": "workshop", "source": "workshop",
             "earned_on": "2024-03-01", "evidence": "陕教师〔2024〕12号"}
    cases = [
        ("enrollment", "PUT", "/v1/orgs/610102003", {"name": "学校\x1b", "kind": "school", "parent_code": COUNTY}),
        ("enrollment", "PUT", f"/v1/hosts/{uuid.uuid4()}", {"name": "\u202e学大范师西陕", "province_code": PROVINCE}),
        ("enrollment", "POST", f"/v1/projects/{project}/bulletins",
         {"issue_no": 7, "title": "第七期\x00", "published_on": "2024-01-01"}),
        ("enrollment", "POST", f"/v1/enrollments/{eid}/fail", {"reason": "缺勤\x00过多"}),
        ("enrollment", "POST", f"/v1/projects/{project}/close-out-materials",
         {"kind": "case", "title": "案例\x1b", "reference": "https://x/\u202e"}),
        ("enrollment", "POST", f"/v1/projects/{project}/cancel", {"reason": "\u202e"}),
        ("credits", "POST", "/v1/claims", {**claim, "evidence": "file\x00name"}),
        ("credits", "POST", "/v1/claims", {**claim, "category": "work\tshop"}),
        ("funding", "POST", "/v1/disbursements",
         {"org_code": PROVINCE, "year": YEAR, "amount_fen": 100, "purpose": "课时费\u202e"}),
    ]
    before = await world.counts()
    for service, method, url, body in cases:
        resp = await world.call(service, method, url, json=body)
        doc = refused(resp, 422, "validation_error")
        assert any("control" in e["msg"] for e in doc["errors"]), (url, doc)
    # NUL where no validator looks (a path segment, a query string) is still a 422, never a 500.
    refused(await world.call("enrollment", "PUT", f"/v1/projects/{project}/quotas/6101%0002", json={"places": 1}),
            422, ("validation_error", "invalid_text"))
    refused(await world.call("enrollment", "PUT", f"/v1/projects/{project}/quotas/6101%0000/splits/{COUNTY}",
                             json={"places": 1}), 422, ("validation_error", "invalid_text"))
    refused(await world.call("enrollment", "GET", "/v1/projects?region=61%00"), 422,
            ("validation_error", "invalid_text"))
    # A reason may run over several lines: line breaks and tabs pass validation there (the started
    # project cannot be cancelled any more, so the domain answers, and nothing is written either).
    refused(await world.call("enrollment", "POST", f"/v1/projects/{project}/cancel",
                             json={"reason": "经费未落实\n\t另行安排"}), 409, "already_started")
    assert await world.counts() == before


# --- national IDs and dates ------------------------------------------------------------------

async def test_invalid_national_ids_in_a_roster_are_listed_by_line_and_write_nothing(world):
    good = national_id(world.seq + 700)
    ids = [good[:17] + ("0" if good[17] != "0" else "1"),  # check digit
           national_id(1, born="19990230"),  # 30 February
           national_id(2, born="21000101"),  # born in the future
           good[:17],  # 17 characters
           good + "1",  # 19 characters
           "6.10102E+17",  # what Excel makes of a number column
           good[:10] + "ABCDEFG" + good[17],  # letters
           "１" * 18]  # full-width digits normalise, but these are not a valid number
    lines = [ROSTER] + [world.roster_row(nid=nid) for nid in ids]
    before = await world.counts()
    doc = refused(await world.call("enrollment", "POST", "/v1/teachers/import", content="\n".join(lines) + "\n",
                                   headers={"content-type": "text/csv"}), 422, "invalid_rows")
    assert [(e["line"], e["field"]) for e in doc["errors"]] == [(n, "national_id") for n in range(2, 10)]
    assert all(nid not in json.dumps(doc) for nid in ids if len(nid) >= 17), "a number was echoed back"
    assert await world.counts() == before


BAD_DATES = ["0001-01-01", "9999-12-31", "2023-02-30", "2023-13-01", "0", "20230101", "2023/01/01", 20230101, None]


@pytest.mark.parametrize("day", BAD_DATES, ids=[repr(d) for d in BAD_DATES])
async def test_dates_out_of_range_or_malformed_are_422_and_write_nothing(world, day):
    project, eid, teacher = world.ids["project"], world.ids["enrollment"], world.ids["teacher"]
    cases = [
        ("enrollment", "POST", "/v1/teachers", world.teacher(hired_on=day), ("validation_error", "invalid_teacher")),
        ("enrollment", "POST", "/v1/projects", {
            "code": "SX-D", "name": "n", "level": "county", "category": "c", "year": YEAR, "organizer_code": CITY,
            "hours": 10, "hour_category": "c", "starts_on": day, "ends_on": f"{YEAR}-05-10", "practical_ratio": 0.5},
         "validation_error"),
        ("enrollment", "POST", f"/v1/enrollments/{eid}/attendance",
         {"session_date": day, "status": "present", "hours": 1}, "validation_error"),
        ("enrollment", "POST", f"/v1/projects/{project}/bulletins", {"issue_no": 50, "title": "t", "published_on": day},
         "validation_error"),
        ("credits", "POST", "/v1/claims", {"teacher_id": teacher, "hours": "1", "category": "c", "source": "other",
                                           "earned_on": day, "evidence": "e"}, "validation_error"),
        ("credits", "PUT", f"/v1/policies/{CITY}", {"effective_from": day, "annual_hours": "72", "cycle_years": 5,
                                                   "cycle_start_year": 2020}, "validation_error"),
        ("funding", "PUT", f"/v1/policies/{CITY}", {"effective_from": day, "pass_down_min": "0.5"},
         "validation_error"),
    ]
    before = await world.counts()
    for service, method, url, body, code in cases:
        refused(await world.call(service, method, url, json=body), 422, code)
    if day is not None and not isinstance(day, int):
        for service, url in (("credits", f"/v1/teachers/{teacher}/transcript"),
                             ("credits", f"/v1/policies/{PROVINCE}"), ("funding", f"/v1/policies/{PROVINCE}"),
                             ("funding", f"/v1/orgs/{PROVINCE}/funding?year={YEAR}")):
            refused(await world.call(service, "GET", url, params={"as_of": day}), 422, "validation_error")
    assert await world.counts() == before


# --- the backstop --------------------------------------------------------------------------

async def test_values_the_database_cannot_hold_are_422_wherever_no_validator_caught_them():
    """Input no validator bounded reaches PostgreSQL and fails there: the statement (and its
    transaction) is gone, so the answer is a 422 naming the kind of fault, never a 500, nor a 503
    that would have the client retry the same bytes (shared/problems.py)."""
    import asyncpg
    from asyncpg.exceptions import _base as asyncpg_base
    from fastapi import FastAPI

    from shared.problems import install_problem_handlers

    faults = {
        "argument": (asyncpg_base.DataError("invalid input for query argument $1 (value out of int64 range)"),
                     "value_out_of_range"),
        "numeric": (asyncpg.exceptions.NumericValueOutOfRangeError("numeric field overflow"), "value_out_of_range"),
        "nul": (asyncpg.exceptions.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00'),
                "invalid_text"),
        "json_nul": (asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape sequence"),
                     "invalid_text"),
    }
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/fault/{name}")
    async def fault(name: str) -> None:
        raise faults[name][0]

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://kernel") as c:
        for name, (_, code) in faults.items():
            refused(await c.get(f"/fault/{name}"), 422, code)
