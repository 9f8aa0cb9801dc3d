"""A synthetic province against the four services: `make bench-province` rewrites the measured
section of docs/scale.md.

    python -m bench.province                      # 500,000 teachers (~20 min on 2 cores)
    python -m bench.province --teachers 100000    # a smaller province
    python -m bench.province --smoke --out X.md   # 300 teachers: proves the harness (tests)

Starts an embedded PostgreSQL and NATS (or uses DATABASE_URL / NATS_URL), the four services as
`make run` does, and loads a province the way its people would: the org tree (province → cities →
counties → schools), every county's roster imported as CSV, a year's projects at four levels with
quotas, nominations by county admins, check-ins by teachers, attendance sheets uploaded by hosts,
final assessments and completions. After each phase it waits until every projection (credits,
funding, reporting) has applied the last event, then reads database sizes, WAL written and
JetStream bytes, so each phase's growth divided by its count gives bytes per teacher, per
enrollment and per attendance record (bench/province_report.py turns these into the section).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import orjson

from bench import province_stack
from bench.load import LoadResult
from bench.province_data import (
    ProjectPlan,
    Province,
    attendance_csv,
    build_province,
    org_csv,
    pick_enrollments,
    plan_projects,
    project_dates,
    roster_csv,
)
from bench.province_gauges import Cpu, Snapshot, catch_up, event_types, machine, snapshot, top_tables
from bench.province_report import render, write_section
from services.enrollment.domain.enrollment import CompletionRules
from shared.settings import REPO_ROOT

HOSTS = ("合成省师范大学", "合成省教育学院", "合成省第一师范学院", "合成省教师发展中心", "合成省电化教育馆",
         "合成省实验中学")
# One call: (method, absolute url, body bytes or None, headers)
Call = tuple[str, str, bytes | None, dict[str, str]]


ATTENDANCE_SHARE = CompletionRules().min_attendance_share or 0.0  # the national default's


@dataclass
class Phase:
    name: str
    unit: str
    count: int  # units done (rows, teachers, enrollments…)
    requests: int
    errors: int
    load_s: float
    p50_ms: float
    p99_ms: float
    catchup_s: float
    caught_up: bool
    behind: dict[str, int]
    cpu_s: dict[str, float]
    retries: int  # 409 concurrency_conflict answered by a retry
    db_delta: int
    stream_delta: int
    wal_delta: int | None
    events_delta: dict[str, int]
    first_errors: list[str] = field(default_factory=list)
    load_avg: float | None = None  # the machine's 1-minute load average at the phase's end (others' work too)

    @property
    def rate(self) -> float:
        return self.count / self.load_s if self.load_s else 0.0


async def drive(http: aiohttp.ClientSession, make: Callable[[int], Call], total: int, concurrency: int,
                on_ok: Callable[[int, bytes], None] | None = None, retried: list[int] | None = None
                ) -> tuple[LoadResult, list[str]]:
    """Closed loop like bench/load.py, over absolute URLs and raw bodies, keeping the first errors
    (a refused request must be explained, not just counted) and, via on_ok, response bodies.
    With `retried`, a 409 concurrency_conflict is retried as the problem says ("reload and retry"),
    with the same Idempotency-Key, up to 10 times, and counted there; latency covers all attempts."""
    counter = iter(range(total))
    latencies: list[float] = []
    errors: list[str] = []

    async def worker() -> None:
        for i in counter:
            method, url, body, headers = make(i)
            t0 = time.perf_counter()
            for attempt in range(11):
                async with http.request(method, url, data=body, headers=headers) as resp:
                    data = await resp.read()
                    status = resp.status
                if retried is None or status != 409 or b'"concurrency_conflict"' not in data or attempt == 10:
                    break
                retried.append(i)
                await asyncio.sleep(0.05 * (attempt + 1))
            latencies.append((time.perf_counter() - t0) * 1000)
            if 200 <= status < 300:
                if on_ok is not None:
                    on_ok(i, data)
            else:
                errors.append(f"{method} {url.split('/', 3)[-1]} → {status} {data[:300].decode(errors='replace')}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, total)))))
    return LoadResult(total, len(errors), time.perf_counter() - started, latencies), errors[:3]


def call(method: str, url: str, token: str, body: Any = None, csv: bytes | None = None) -> Call:
    headers = {"Authorization": f"Bearer {token}"}
    if method == "POST":
        headers["Idempotency-Key"] = str(uuid.uuid4())  # as mobile apps and import tools send them
    if csv is not None:
        return method, url, csv, {**headers, "Content-Type": "text/csv"}
    if body is not None:
        return method, url, orjson.dumps(body), {**headers, "Content-Type": "application/json"}
    return method, url, None, headers


async def one(http: aiohttp.ClientSession, c: Call, on_ok: Callable[[int, bytes], None] | None = None) -> None:
    """A set-up call that must succeed."""
    _, errors = await drive(http, lambda _: c, 1, 1, on_ok)
    if errors:
        raise RuntimeError(errors[0])


class Bench:
    def __init__(self, args: argparse.Namespace, stack: province_stack.Stack, http: aiohttp.ClientSession,
                 where: str) -> None:
        self.args, self.stack, self.http, self.machine = args, stack, http, where
        self.dead_letters = 0
        self.province: Province = build_province(args.province, args.teachers, args.cities, args.counties,
                                                 args.school_size)
        self.rng = random.Random(args.seed)
        p = self.province.code
        self.prov = stack.token("province_admin", p)
        self.ops = stack.token("ops")  # GET /v1/projections, for the catch-up polls
        self.admins = {p: self.prov} | {c: stack.token("city_admin", c) for c, _ in self.province.cities} | {
            c.code: stack.token("county_admin", c.code) for c in self.province.counties}
        self.hosts = [str(uuid.uuid4()) for _ in HOSTS]
        self.teacher_ids: list[str] = [""] * args.teachers
        self.sessions: dict[str, list[int]] = {}  # enrollment id → [present, recorded] sessions
        self.plans: list[ProjectPlan] = []
        self.phases: list[Phase] = []
        pgdata = (stack.work / "pg") if stack.own_pg else None
        self.cpu = Cpu({s: p.pid for s, p in stack.procs.items()}, pgdata,
                       stack.nats.process.pid if stack.nats and stack.nats.process else None)

    def url(self, service: str, path: str) -> str:
        return f"{self.stack.urls[service]}{path}"

    async def snap(self) -> Snapshot:
        s = self.stack
        return await snapshot(s.dsns, s.nats_url, s.streams, own_server=s.own_pg)

    async def phase(self, name: str, unit: str, work: Callable[[], Awaitable[tuple[int, LoadResult, list[str]]]]
                    ) -> Phase:
        self.retried: list[int] = []
        before, cpu0 = await self.snap(), self.cpu.read()
        t0 = time.monotonic()
        count, result, errors = await work()
        load_s = time.monotonic() - t0
        cu = await catch_up(self.http, self.stack.urls, self.ops, self.stack.dsns, self.args.catchup_timeout)
        cpu1, after = self.cpu.read(), await self.snap()
        ph = Phase(name, unit, count, result.requests, result.errors, load_s, result.p50, result.p99, cu.seconds,
                   cu.caught_up, cu.behind, {k: cpu1[k] - cpu0.get(k, 0.0) for k in cpu1}, len(self.retried),
                   after.total_db - before.total_db, after.total_stream - before.total_stream,
                   None if after.wal_bytes is None else after.wal_bytes - before.wal_bytes,
                   {k: after.events[k] - before.events.get(k, 0) for k in after.events}, errors,
                   os.getloadavg()[0])
        self.phases.append(ph)
        self.dead_letters = cu.dead_letters
        print(f"[province] {name}: {count:,} {unit} in {load_s:.1f}s ({ph.rate:,.0f}/s), {ph.errors} errors, "
              f"{ph.retries} retried, "
              f"caught up {'in' if cu.caught_up else 'NOT after'} {cu.seconds:.1f}s {cu.behind or ''}", flush=True)
        for e in errors:
            print(f"[province]   {e}", file=sys.stderr, flush=True)
        return ph

    # ---- phases -------------------------------------------------------------------------------

    async def orgs(self) -> tuple[int, LoadResult, list[str]]:
        """The tree as a go-live registers it (POST /v1/orgs/import, all or nothing per file): the
        province with its cities and counties in one file, then every county's school list, the
        counties uploading concurrently. (Runs before 2026-12-05 PUT one org at a time: 10,115 in
        20–92 s.)"""
        pv = self.province
        top = [(pv.code, pv.name, "province", None)] + [(c, n, "city", pv.code) for c, n in pv.cities] + [
            (c.code, c.name, "county", c.city) for c in pv.counties]
        files = [(self.prov, top)] + [(self.admins[c.code], [(code, name, "school", c.code)
                                                             for code, name, _ in c.schools]) for c in pv.counties]

        def make(i: int) -> Call:
            token, rows = files[i]
            return call("POST", self.url("enrollment", "/v1/orgs/import"), token, csv=org_csv(rows))

        # Parents first: the province's file, then the counties' school lists.
        first, errors = await drive(self.http, make, 1, 1)
        rest, more = await drive(self.http, lambda i: make(1 + i), len(files) - 1, self.args.import_concurrency)
        return sum(len(rows) for _, rows in files), _merge(first, rest), errors + more

    async def roster(self) -> tuple[int, LoadResult, list[str]]:
        chunks = []
        for county in self.province.counties:
            r = county.teachers
            for lo in range(r.start, r.stop, self.args.import_chunk):
                chunks.append((county, range(lo, min(r.stop, lo + self.args.import_chunk))))

        def make(i: int) -> Call:
            county, rows = chunks[i]
            return call("POST", self.url("enrollment", "/v1/teachers/import"), self.admins[county.code],
                        csv=roster_csv(self.province, county, rows))

        done = 0

        def imported(i: int, body: bytes) -> None:
            nonlocal done
            ids = orjson.loads(body)["teacher_ids"]
            self.teacher_ids[chunks[i][1].start:chunks[i][1].stop] = ids
            done += len(ids)

        result, errors = await drive(self.http, make, len(chunks), self.args.import_concurrency, imported)
        return done, result, errors

    async def setup_projects(self) -> None:
        """Hosts, the credits policy, and every project through draft → plan → approval → open with
        its quotas (places as nominated plus a tenth spare). Not a figure: a province does this
        a few hundred times a year."""
        for host, name in zip(self.hosts, HOSTS, strict=True):
            await one(self.http, call("PUT", self.url("enrollment", f"/v1/hosts/{host}"), self.prov,
                                      {"name": name, "province_code": self.province.code}))
        # 五年360学时 (seed 003 §4.3): the province's policy, so completions become awards.
        await one(self.http, call("PUT", self.url("credits", f"/v1/policies/{self.province.code}"), self.prov, {
            "effective_from": "2021-01-01", "cycle_years": 5, "cycle_start_year": 2021, "cycle_hours": 360,
            "annual_hours": 72, "hours_per_credit": 20, "induction_hours": 120}))
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        run = uuid.uuid4().hex[:6]
        gate = asyncio.Semaphore(8)

        async def create(k: int, plan: ProjectPlan) -> None:
            plan.starts_on, plan.ends_on = project_dates(today, plan.days)
            practical = plan.hours - 3
            body = {"code": f"{plan.level[:3].upper()}-{run}-{k:04d}", "name": plan.name, "level": plan.level,
                    "category": plan.category, "year": plan.starts_on.year, "host_id": self.hosts[plan.host],
                    "organizer_code": plan.organizer, "hours": plan.hours, "hour_category": "centralized",
                    "starts_on": plan.starts_on.isoformat(), "ends_on": plan.ends_on.isoformat(),
                    "cross_year": False, "practical_ratio": 0.6,
                    "modules": [{"name": "师德第一课", "hours": 3, "kind": "ethics"},
                                {"name": "课堂实践与研讨", "hours": practical, "practical": True}]}
            org = self.admins[plan.organizer]
            async with gate:
                await one(self.http, call("POST", self.url("enrollment", "/v1/projects"), org, body),
                          lambda _, b: setattr(plan, "id", orjson.loads(b)["id"]))
                for step, token in (("submit-plan", org), ("approve", self.admins[plan.approver]), ("open", org)):
                    await one(self.http, call("POST", self.url("enrollment", f"/v1/projects/{plan.id}/{step}"), token))
                for region in plan.regions:
                    places = plan.places.get(region, 0)
                    await one(self.http, call("PUT", self.url("enrollment", f"/v1/projects/{plan.id}/quotas/{region}"),
                                              org, {"places": places + math.ceil(places / 10) + 1}))

        await asyncio.gather(*(create(k, p) for k, p in enumerate(self.plans)))

    async def nominations(self, picks: list[tuple[int, ProjectPlan, str]]) -> tuple[int, LoadResult, list[str]]:
        def make(i: int) -> Call:
            teacher, plan, county = picks[i]
            return call("POST", self.url("enrollment", f"/v1/projects/{plan.id}/nominations"), self.admins[county],
                        {"teacher_id": self.teacher_ids[teacher], "region_code": county})

        result, errors = await drive(self.http, make, len(picks), self.args.concurrency, retried=self.retried)
        return len(picks) - result.errors, result, errors

    async def enrollments(self) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.stack.dsns["enrollment"])
        try:
            return await conn.fetch("SELECT id, teacher_id, project_id FROM enrollments ORDER BY id")
        finally:
            await conn.close()

    async def check_ins(self, rows: list[asyncpg.Record]) -> tuple[int, LoadResult, list[str]]:
        # Each teacher checks in from the app with their own token (minted before the clock starts).
        calls = [call("POST", self.url("enrollment", f"/v1/enrollments/{r['id']}/check-in"),
                      self.stack.token("teacher", sub=str(r["teacher_id"]))) for r in rows]
        result, errors = await drive(self.http, lambda i: calls[i], len(calls), self.args.concurrency,
                                     retried=self.retried)
        return len(calls) - result.errors, result, errors

    async def start_projects(self) -> None:
        for plan in self.plans:
            await one(self.http, call("POST", self.url("enrollment", f"/v1/projects/{plan.id}/start"),
                                      self.admins[plan.organizer]))

    async def attendance(self, checked: list[asyncpg.Record]) -> tuple[int, LoadResult, list[str]]:
        """Each host uploads one sheet per project and session day (≤ 5,000 rows, the import's cap), a
        day's sheets after the previous day's, as hosts upload at the end of each training day."""
        plans = {p.id: p for p in self.plans}
        by_project: dict[str, list[str]] = {}
        for r in checked:
            by_project.setdefault(str(r["project_id"]), []).append(str(r["id"]))
        sheets: list[tuple[ProjectPlan, list[tuple[str, date, str, float]]]] = []
        leaves: list[tuple[ProjectPlan, str, date]] = []  # sessions recorded as leave: approved first
        for day in range(self.args.sessions):
            for pid, ids in by_project.items():
                plan = plans[pid]
                if day >= plan.days:
                    continue
                hours = round(plan.hours / plan.days, 1)
                on = plan.starts_on + timedelta(days=day)
                rows = []
                for eid in ids:
                    roll = self.rng.random()  # most attend; a few are on leave (请假) or absent
                    status = "present" if roll < 0.93 else "leave" if roll < 0.97 else "absent"
                    rows.append((eid, on, status, hours if status == "present" else 0.0))
                    if status == "leave":
                        leaves.append((plan, eid, on))
                    seen = self.sessions.setdefault(eid, [0, 0])
                    seen[0] += status == "present"
                    seen[1] += 1
                for lo in range(0, len(rows), 5000):
                    sheets.append((plan, rows[lo:lo + 5000]))
        host_tokens = [self.stack.token("host", h) for h in self.hosts]
        bodies = [attendance_csv(rows) for _, rows in sheets]
        # 请假 needs approval (002 §4.1.3): the host records each leave request on the teacher's
        # behalf and approves it before the sheets go up (not part of the sheets' figures).
        for action in ("", "/{on}/approve"):
            leave_calls = [call("POST", self.url("enrollment", f"/v1/enrollments/{eid}/leave-requests"
                                                 + action.format(on=on.isoformat())),
                                host_tokens[plan.host], {} if action else {"session_date": on.isoformat(),
                                                                           "reason": "请假"})
                           for plan, eid, on in leaves]
            _, leave_errors = await drive(self.http, leave_calls.__getitem__, len(leave_calls),
                                          self.args.concurrency, retried=self.retried)
            if leave_errors:
                raise RuntimeError(leave_errors[0])

        def make(i: int) -> Call:
            plan = sheets[i][0]
            return call("POST", self.url("enrollment", f"/v1/projects/{plan.id}/attendance/import"),
                        host_tokens[plan.host], csv=bodies[i])

        done = 0

        def recorded(i: int, body: bytes) -> None:
            nonlocal done
            done += orjson.loads(body)["recorded"]

        result, errors = await drive(self.http, make, len(sheets), self.args.import_concurrency, recorded,
                                     self.retried)
        return done, result, errors

    def attended_enough(self, enrollment_id: str) -> bool:
        present, recorded = self.sessions.get(enrollment_id, (0, 0))
        return present >= ATTENDANCE_SHARE * recorded

    async def assessments(self, sample: list[asyncpg.Record]) -> tuple[int, LoadResult, list[str]]:
        return await self._per_enrollment(sample, "assessment", {"kind": "final", "score": 86, "passed": True})

    async def completions(self, sample: list[asyncpg.Record]) -> tuple[int, LoadResult, list[str]]:
        return await self._per_enrollment(sample, "complete", None)

    async def _per_enrollment(self, rows: list[asyncpg.Record], action: str, body: Any
                              ) -> tuple[int, LoadResult, list[str]]:
        plans = {p.id: p for p in self.plans}
        host_tokens = [self.stack.token("host", h) for h in self.hosts]
        calls = [call("POST", self.url("enrollment", f"/v1/enrollments/{r['id']}/{action}"),
                      host_tokens[plans[str(r["project_id"])].host], body) for r in rows]
        result, errors = await drive(self.http, lambda i: calls[i], len(calls), self.args.concurrency,
                                     retried=self.retried)
        return len(calls) - result.errors, result, errors

    # ---- the run ------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        a = self.args
        started = time.monotonic()
        await self.phase("org tree", "orgs", self.orgs)
        await self.phase("roster import", "teachers", self.roster)
        self.plans = plan_projects(self.province, len(self.hosts))
        picks = pick_enrollments(self.province, self.plans, round(a.teachers * a.enroll_fraction), self.rng)
        await self.setup_projects()
        await self.phase("nomination", "enrollments", lambda: self.nominations(picks))
        rows = await self.enrollments()
        checked = self.rng.sample(rows, round(len(rows) * a.checkin_fraction))
        await self.phase("check-in", "check-ins", lambda: self.check_ins(checked))
        await self.start_projects()
        await self.phase("attendance import", "records", lambda: self.attendance(checked))
        # Hosts complete those who attended enough (the default attendance share, 80 %: 002 §4.1.3).
        attended = [r for r in checked if self.attended_enough(str(r["id"]))]
        sample = self.rng.sample(attended, min(len(attended), round(len(checked) * a.complete_fraction)))
        plans = {p.id: p for p in self.plans}
        needs_final = [r for r in sample if plans[str(r["project_id"])].hours >= 90]
        await self.phase("final assessment", "assessments", lambda: self.assessments(needs_final))
        await self.phase("completion", "completions", lambda: self.completions(sample))
        end = await self.snap()
        tables = {s: await top_tables(dsn) for s, dsn in self.stack.dsns.items()}
        events = {s: await event_types(self.stack.dsns[s]) for s in end.events}
        return {
            "date": date.today().isoformat(), "machine": self.machine, "command": a.command,
            "params": {"teachers": a.teachers, "province": self.province.code, "cities": len(self.province.cities),
                       "counties": len(self.province.counties), "schools": self.province.schools,
                       "projects": len(self.plans), "enrollments": len(rows), "check_ins": len(checked),
                       "completions": len(sample), "sessions": a.sessions, "concurrency": a.concurrency,
                       "import_chunk": a.import_chunk, "import_concurrency": a.import_concurrency,
                       "embedded": self.stack.own_pg},
            "total_s": time.monotonic() - started,
            "phases": [asdict(p) | {"rate": p.rate} for p in self.phases],
            "databases": {s: {"bytes": end.db_bytes[s], "tables": tables[s]} for s in end.db_bytes},
            "streams": {s: {"bytes": end.stream_bytes[s], "messages": end.stream_messages[s]}
                        for s in end.stream_bytes},
            "events": events, "wal_bytes": end.wal_bytes, "dead_letters": self.dead_letters,
        }


def _merge(a: LoadResult, b: LoadResult) -> LoadResult:
    return LoadResult(a.requests + b.requests, a.errors + b.errors, a.seconds + b.seconds,
                      a.latencies_ms + b.latencies_ms)


# Below uvicorn's keep-alive timeout (5 s), so that the client drops an idle connection before the
# service does (aiohttp checks the age when it hands one out). A run at 23:15 ended in its roster
# phase on ServerDisconnectedError with nothing in the service's log: the org tree's 64 connections
# sit idle while the roster's few import workers run, and one handed out just as the service closed
# it, before this loop (busy building CSV) had read the close, fails that way.
_KEEPALIVE_S = 2.0


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    where = machine()
    stack = await province_stack.start(work)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900),
                                         connector=aiohttp.TCPConnector(limit=max(64, args.concurrency),
                                                                        keepalive_timeout=_KEEPALIVE_S)) as http:
            return await Bench(args, stack, http, where).run()
    except BaseException:
        for s in stack.procs:
            if tail := stack.log_tail(s, 15):
                print(f"--- {s} log ---\n{tail}", file=sys.stderr)
        raise
    finally:
        await province_stack.stop(stack, keep=args.keep)


def _command(argv: list[str]) -> str:
    """The command line as a reader would rerun it: where the output goes is left out."""
    shown, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--out", "--json"):
            skip = True
        elif not arg.startswith(("--out=", "--json=")):
            shown.append(arg)
    return shlex.join(["python", "-m", "bench.province", *shown])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.province", description=__doc__.split("\n\n")[0])
    ap.add_argument("--teachers", type=int, default=500_000)
    ap.add_argument("--province", default="43", help="GB/T 2260 province prefix (43: shaped like Hunan)")
    ap.add_argument("--cities", type=int, default=14)
    ap.add_argument("--counties", type=int, default=100)
    ap.add_argument("--school-size", type=int, default=50, help="teachers per school")
    ap.add_argument("--enroll-fraction", type=float, default=0.05, help="teachers nominated to a project")
    ap.add_argument("--checkin-fraction", type=float, default=0.9, help="nominees who check in")
    ap.add_argument("--sessions", type=int, default=3, help="attendance sheets per project (session days)")
    ap.add_argument("--complete-fraction", type=float, default=0.25, help="checked-in enrollments completed")
    ap.add_argument("--concurrency", type=int, default=32, help="concurrent clients for single commands")
    ap.add_argument("--import-chunk", type=int, default=5000, help="roster rows per CSV import (cap 50,000)")
    ap.add_argument("--import-concurrency", type=int, default=2, help="CSV uploads at once")
    ap.add_argument("--catchup-timeout", type=float, default=1800, help="seconds to wait for projections, per phase")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to prove the harness works")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "scale.md")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--keep", action="store_true", help="keep the data folder (and shared databases/streams)")
    args = ap.parse_args(argv)
    args.command = _command(sys.argv[1:] if argv is None else argv)
    if args.smoke:
        args.teachers, args.cities, args.counties = 300, 2, 4
        args.enroll_fraction, args.complete_fraction, args.sessions = 0.2, 0.5, 2
        args.concurrency, args.catchup_timeout = 8, 120
    work = Path(tempfile.mkdtemp(prefix="tt-province-"))
    try:
        figures = asyncio.run(measure(args, work))
    finally:
        if args.keep:
            print(f"[province] data kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    write_section(args.out, render(figures))
    print(render(figures))
    failed = {p["name"]: p["errors"] for p in figures["phases"] if p["errors"]}
    behind = [p["name"] for p in figures["phases"] if not p["caught_up"]]
    if failed or behind or figures["dead_letters"]:
        print(f"[province] errors {failed}, not caught up {behind}, dead letters {figures['dead_letters']}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
