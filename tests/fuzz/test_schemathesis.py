"""Schemathesis against each service's OpenAPI document (issue 9): every operation of the four
services is fuzzed in-process with a valid token of a role that may call it, and every answer must
be no 5xx, a documented status code and content type, and a body matching the documented schema
(problem+json for every error, shared/problems.py).

The services are real: their own PostgreSQL databases, one JetStream namespace, their relays and
projections running, a small world seeded through the API first (org tree, host, two teachers, an
open and a started project with an enrollment each, a pending credit claim, credit and funding
policies, budgets, an allocation). Three in four generated ids and org codes are pointed at that
world (World.aim), so operations get past 404 and 403 into their real work. Schemathesis drives
the apps through its ASGI client, on one event-loop thread that also runs their lifespans
(Resident), so their pools live on the loop that serves them. Generation is deterministic (a
fixed seed, derandomized Hypothesis, no example database), so CI sees the same requests every
run; FUZZ_EXAMPLES raises the budget locally (FUZZ_EXAMPLES=100 for a deeper run) and FUZZ_SEED
draws other requests (CI keeps the default).

Its pytest plugin is used for collection only: each operation is its own test item, e.g.
`-k "enrollment and teachers"`.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.enrollment.domain.national_id import check_char
from shared.db import drop_database, with_database
from shared.devkeys import mint_token
from shared.service import create_app
from shared.settings import Settings
from tests.conftest import _drop_streams, running

# The apps answer on schemathesis's event-loop thread while Hypothesis draws on this one, and
# OpenTelemetry draws span and trace ids from the global `random`: Hypothesis sees the global
# state move during a draw and warns. Generation itself does not use it (it stays deterministic).
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")

SERVICES = ("enrollment", "credits", "funding", "reporting")
PROVINCE, CITY, COUNTY, SCHOOL = "610000", "610100", "610102", "610102001"
YEAR = date.today().year + 2  # projects run ahead of today: the plan deadlines are still open
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))  # ~1 min for all 80 operations
CONFIG = schemathesis.Config.from_dict({
    "seed": int(os.environ.get("FUZZ_SEED", "92024")),
    "suppress-health-check": ["all"],
    # Unknown query parameters are ignored, as by every FastAPI app: not a negative case here.
    "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none", "mode": "all",
                   "allow-extra-parameters": False},
    "phases": {"stateful": {"enabled": False}},
})
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]


@dataclass
class World:
    keys_dir: Path
    apps: dict[str, Any] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=lambda: {"code": [PROVINCE, CITY, COUNTY, SCHOOL]})
    tokens: dict[tuple, str] = field(default_factory=dict)

    def token(self, role: str, org: str | None = None, sub: str | None = None) -> str:
        key = (role, org, sub)
        if key not in self.tokens:
            self.tokens[key] = mint_token(self.keys_dir, role, org=org, sub=sub)
        return self.tokens[key]

    def call(self, service: str, method: str, path: str, role=("province_admin", PROVINCE), **kw):
        headers = {"Authorization": f"Bearer {self.token(*role)}", **kw.pop("headers", {})}
        return self.clients[service].request(method, path, headers=headers, timeout=30, **kw)

    def ok(self, service: str, method: str, path: str, **kw) -> dict:
        resp = self.call(service, method, path, **kw)
        assert resp.status_code in (200, 201), f"seeding {method} {path}: {resp.status_code} {resp.text}"
        return resp.json()

    def who(self, service: str, method: str, path: str) -> tuple[str, str | None, str | None]:
        """A role that may call the operation (from the routes' require_role calls)."""
        special = {
            **{(s, "GET", "/v1/events"): ("service", None, "fuzz-service") for s in SERVICES},
            ("enrollment", "POST", "/v1/enrollments/{enrollment_id}/evaluation"):
                ("teacher", None, self.ids["teacher_id"][1]),
            # Leave (请假) is asked by the teacher of the checked-in enrollment (or its host).
            ("enrollment", "POST", "/v1/enrollments/{enrollment_id}/leave-requests"):
                ("teacher", None, self.ids["teacher_id"][1]),
            ("credits", "POST", "/v1/claims/{claim_id}/approve"): ("auditor", PROVINCE, None),
            ("credits", "POST", "/v1/claims/{claim_id}/reject"): ("auditor", PROVINCE, None),
            ("funding", "POST", "/v1/settlements"): ("county_admin", COUNTY, None),
            # 004 §2.2: only the city's own admin splits its places.
            ("enrollment", "PUT", "/v1/projects/{project_id}/quotas/{city_code}/splits/{county_code}"):
                ("city_admin", CITY, None),
            **{(s, "GET", p): ("teacher", None, self.ids["teacher_id"][0]) for s, p in (
                ("enrollment", "/v1/me/enrollments"), ("credits", "/v1/me/transcript"),
                ("credits", "/v1/me/certificates"))},
        }
        return special.get((service, method, path), ("province_admin", PROVINCE, None))

    def aim(self, case) -> None:
        """Point part of the generated ids and org codes at the seeded world, so operations get
        past 404 and 403 into their real work. Which ones is a function of the generated value,
        so the run stays deterministic; the rest keep the fuzzer's own (often hostile) values."""
        for container in (case.path_parameters, case.query, case.body):
            if not isinstance(container, dict):
                continue
            for name, value in list(container.items()):
                known = self.ids.get(_ID_KINDS.get(name, name))
                if known and isinstance(value, str):
                    pick = zlib.crc32(value.encode("utf-8", "surrogatepass"))
                    if pick % 4:
                        container[name] = known[pick % len(known)]
        case.meta  # noqa: B018 - revalidates: a negative case may have become a positive one


# Parameter and field names that carry one of the seeded kinds of id.
_ID_KINDS = {name: "code" for name in (
    "jurisdiction_code", "region_code", "parent_code", "org_code", "school_code", "organizer_code", "from_code",
    "to_code", "county_code", "province_code", "city_code")} | {"entry_id": "claim_id"}


def national_id(seq: int) -> str:
    head = f"610102198501{seq % 28 + 1:02d}{seq % 1000:03d}"
    return head + check_char(head)


def _project(world: World, code: str) -> str:
    pid = world.ok("enrollment", "POST", "/v1/projects", json={
        "code": code, "name": "市级骨干教师培训", "level": "municipal", "category": "骨干教师", "year": YEAR,
        "host_id": world.ids["host_id"][0], "organizer_code": CITY, "hours": 90, "hour_category": "centralized",
        "starts_on": f"{YEAR}-05-01", "ends_on": f"{YEAR}-05-10", "cross_year": False, "practical_ratio": 0.6,
        "modules": [{"name": "师德师风第一课", "hours": 6, "kind": "ethics"},
                    {"name": "跟岗实践", "hours": 60, "practical": True, "kind": "practice"}]})["id"]
    for action in ("submit-plan", "approve", "open"):
        world.ok("enrollment", "POST", f"/v1/projects/{pid}/{action}")
    world.ok("enrollment", "PUT", f"/v1/projects/{pid}/quotas/{COUNTY}", json={"places": 5})
    return pid


def _seed(world: World) -> None:
    """Two projects (one open, one started), two enrollments (nominated, checked in), a pending
    credit claim, credit and funding policies, budgets and an allocation."""
    for code, name, kind, parent in ((PROVINCE, "陕西省", "province", None), (CITY, "西安市", "city", PROVINCE),
                                     (COUNTY, "新城区", "county", CITY), (SCHOOL, "新城区第一中学", "school", COUNTY)):
        world.ok("enrollment", "PUT", f"/v1/orgs/{code}", json={"name": name, "kind": kind, "parent_code": parent})
    host = str(uuid.uuid4())
    world.ok("enrollment", "PUT", f"/v1/hosts/{host}", json={"name": "陕西师范大学", "province_code": PROVINCE})
    world.ids["host_id"] = [host]
    world.ids["teacher_id"] = [world.ok("enrollment", "POST", "/v1/teachers", json={
        "name": name, "national_id": national_id(seq), "school_code": SCHOOL, "subject": "数学", "stage": "初中",
        "title": "一级教师", "hired_on": "2010-09-01"})["id"] for seq, name in ((7, "王芳"), (8, "李强"))]
    world.ids["project_id"] = [_project(world, "SX-FUZZ-1"), _project(world, "SX-FUZZ-2")]
    world.ids["enrollment_id"] = [world.ok("enrollment", "POST", f"/v1/projects/{pid}/nominations", json={
        "teacher_id": tid, "region_code": COUNTY})["enrollment_id"]
        for pid, tid in zip(world.ids["project_id"], world.ids["teacher_id"], strict=True)]
    world.ok("enrollment", "POST", f"/v1/enrollments/{world.ids['enrollment_id'][1]}/check-in")
    world.ok("enrollment", "POST", f"/v1/projects/{world.ids['project_id'][1]}/start")

    world.ok("credits", "PUT", f"/v1/policies/{PROVINCE}", json={
        "effective_from": "2020-01-01", "hours_per_credit": "10", "annual_hours": "72", "cycle_years": 5,
        "cycle_start_year": 2020, "cycle_hours": "360"})
    claim = {"teacher_id": world.ids["teacher_id"][0], "hours": "12", "category": "workshop", "source": "workshop",
             "earned_on": "2024-03-01", "evidence": "陕教师〔2024〕12号"}
    # Credits and funding learn teachers and the org tree from enrollment's events, over NATS.
    _eventually(lambda: world.call("credits", "POST", "/v1/claims", json=claim).status_code == 201,
                "credits knows the teacher")
    world.ids["claim_id"] = [r["claim_id"] for r in world.ok("credits", "GET", "/v1/claims")["items"]]
    _eventually(lambda: world.call("funding", "PUT", f"/v1/policies/{PROVINCE}", json={
        "effective_from": "2020-01-01", "school_public_funds_share": "0.05", "district_payroll_share_min": "0.03",
        "pass_down_min": "0.7"}).status_code in (200, 201), "funding knows the province")
    budget = {"public_funds_budget_fen": 10_000_000, "payroll_fen": 50_000_000, "training_budget_fen": 500_000}
    world.ok("funding", "PUT", f"/v1/orgs/{PROVINCE}/budgets/{YEAR}", json=budget)
    _eventually(lambda: world.call("funding", "PUT", f"/v1/orgs/{SCHOOL}/budgets/{YEAR}", role=(
        "school_admin", SCHOOL), json=budget).status_code in (200, 201), "funding knows the school")
    world.ids["allocation_id"] = [world.ok("funding", "POST", "/v1/allocations", json={
        "from_code": PROVINCE, "to_code": CITY, "year": YEAR, "amount_fen": 100_000})["allocation_id"]]


def _eventually(check, message: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {message}"
        time.sleep(0.1)


class Resident:
    """An app whose lifespan (pool, relay, consumers) runs once for the whole module, on the event
    loop that serves its requests: schemathesis's ASGI client runs every app on one loop thread,
    and its pytest plugin ends the lifespans it started after each test, which would close the
    pools under the apps' feed clients and restart every service per operation. This wrapper
    answers those lifespan messages itself and starts the real one with the first request."""

    def __init__(self, app) -> None:
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._ready = self._stop = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.start()
        await self.app(scope, receive, send)

    async def start(self) -> None:
        if self._task is None:
            self.loop, self._ready, self._stop = asyncio.get_running_loop(), asyncio.Event(), asyncio.Event()
            self._task = asyncio.create_task(self._run())
        ready = asyncio.ensure_future(self._ready.wait())
        await asyncio.wait([ready, self._task], return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self._task.done():
            self._task.result()  # startup failed: raise its error

    async def _run(self) -> None:
        async with running(self.app):
            self._ready.set()
            await self._stop.wait()

    def close(self) -> None:
        """From the test thread: end the lifespan on its own loop."""
        if self.loop is not None and self._task is not None:
            async def stop() -> None:
                self._stop.set()
                await self._task

            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=60)


@pytest.fixture(scope="module")
def world(pg_server_url, nats_url, keys_dir, pii_key):
    namespace = f"t{uuid.uuid4().hex[:10]}"
    world = World(keys_dir)
    urls = []
    service_token = mint_token(keys_dir, "service", sub="fuzz-service")
    for service in SERVICES:
        url = with_database(pg_server_url, f"t_fz_{service[:3]}_{uuid.uuid4().hex[:10]}")
        urls.append(url)
        settings = Settings(service_name=service, database_url=url, nats_url=nats_url, bus_namespace=namespace,
                            jwt_public_keys=keys_dir / "jwks.json", db_pool_min=1, db_pool_max=10, pii_key=pii_key,
                            service_token=service_token)
        world.apps[service] = create_app(importlib.import_module(f"services.{service}.main").spec, settings)
    # The rebuild endpoints read the owners' feeds: in-process, not over the network.
    feeds = {s: httpx.AsyncClient(transport=httpx.ASGITransport(app=world.apps[s]), base_url=f"http://{s}")
             for s in ("enrollment", "credits", "funding")}
    world.apps["reporting"].state.peer_clients = feeds
    world.apps["credits"].state.enrollment_feed_client = feeds["enrollment"]
    residents = {service: Resident(app) for service, app in world.apps.items()}
    world.clients = {service: asgi.get_client(r) for service, r in residents.items()}
    try:
        for service in SERVICES:  # one at a time: each applies its migrations
            world.clients[service].get("/healthz")
        _seed(world)
        yield world
    finally:
        for r in residents.values():
            r.close()
        asyncio.run(_cleanup(urls, nats_url, namespace, list(feeds.values())))


async def _cleanup(urls: list[str], nats_url: str, namespace: str, clients: list[httpx.AsyncClient]) -> None:
    for client in clients:
        await client.aclose()
    for url in urls:
        await drop_database(url)
    await _drop_streams(nats_url, namespace)


def _schema(service: str):
    """The service's OpenAPI document as its app serves it (no lifespan needed to generate it)."""
    app = importlib.import_module(f"services.{service}.main").app
    return schemathesis.openapi.from_dict(app.openapi(), config=CONFIG)


def fuzz(world: World, service: str, case) -> None:
    world.aim(case)
    role, org, sub = world.who(service, case.operation.method.upper(), case.operation.path)
    headers = {"Authorization": f"Bearer {world.token(role, org, sub)}"}
    response = case.call(base_url=f"http://{asgi.HOST}", session=world.clients[service], headers=headers, timeout=30)
    case.validate_response(response, checks=CHECKS, headers=headers)
    _declared_code(case, response)


def _declared_code(case, response) -> None:
    """Issue 16: a problem's code is one its operation lists in `x-problem-codes`."""
    media = response.headers.get("content-type") or ""
    media = media[0] if isinstance(media, list) else media  # schemathesis keeps every value of a header
    if response.status_code < 400 or not media.startswith("application/problem"):
        return
    if case.method.upper() != case.operation.method.upper():
        return  # schemathesis trying a method the path does not have: no operation's answer
    code = response.json().get("code")
    declared = case.operation.definition.raw.get("x-problem-codes", [])
    where = f"{case.operation.method.upper()} {case.operation.path}"
    assert code in declared, f"{where} answered {code!r}, not in its x-problem-codes {declared}"


enrollment, credits, funding, reporting = (_schema(s) for s in SERVICES)


@enrollment.parametrize()
def test_enrollment(case, world):
    fuzz(world, "enrollment", case)


@credits.parametrize()
def test_credits(case, world):
    fuzz(world, "credits", case)


@funding.parametrize()
def test_funding(case, world):
    fuzz(world, "funding", case)


@reporting.parametrize()
def test_reporting(case, world):
    fuzz(world, "reporting", case)

