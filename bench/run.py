"""`make bench`: our command path against its baseline, in one run, on one machine.

Starts an embedded PostgreSQL and NATS, the bare FastAPI + asyncpg insert endpoint
(bench/baseline_app.py) and the enrollment service as uvicorn processes, drives each with the
same closed-loop generator (bench/load.py), and rewrites docs/benchmarks.md.

    python -m bench.run                 # full sizes
    python -m bench.run --smoke --out X # tiny sizes: proves the harness works (run by make test)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx

from bench.load import LoadResult, run_load
from bench.people import national_id
from shared.db import ensure_database, with_database
from shared.devkeys import ensure_dev_keys, ensure_pii_key, mint_token
from shared.devstack import free_port, start_nats, start_postgres, stop_postgres
from shared.settings import REPO_ROOT

COUNTY, CITY, PROVINCE, SCHOOL = "610102", "610100", "610000", "610102001"


PROFILE: Path | None = None  # --profile: run our service under py-spy, collapsed stacks here


def _serve(module: str, port: int, env: dict[str, str], profile: bool = False) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
           "--log-level", "warning"]
    if profile and PROFILE is not None:
        cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--rate", "200",
               "-o", str(PROFILE), "--", *cmd]
    return subprocess.Popen(cmd, env={**os.environ, **env}, cwd=REPO_ROOT)


async def _ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} not ready")


def _project_dates(today: date) -> tuple[date, date]:
    # Plans go in ≥ 10 days before start (004 §3.2); single-year projects end by 20 December.
    start = today + timedelta(days=12)
    if (start + timedelta(days=4)) > date(start.year, 12, 20):
        start = date(start.year + 1, 3, 1)
    return start, start + timedelta(days=4)


async def seed(client: httpx.AsyncClient, keys: Path, teachers: int) -> tuple[str, list[str]]:
    """An org tree, a host, `teachers` teachers imported by CSV, and an open 国培 project with
    room for all of them. Returns (project id, teacher ids)."""
    prov = {"Authorization": f"Bearer {mint_token(keys, 'province_admin', org=PROVINCE)}"}
    for code, name, kind, parent in [(PROVINCE, "陕西省", "province", None), (CITY, "西安市", "city", PROVINCE),
                                     (COUNTY, "新城区", "county", CITY), (SCHOOL, "新城区第一小学", "school", COUNTY)]:
        (await client.put(f"/v1/orgs/{code}", json={"name": name, "kind": kind, "parent_code": parent},
                          headers=prov)).raise_for_status()
    host = str(uuid.uuid4())
    (await client.put(f"/v1/hosts/{host}", json={"name": "陕西师范大学", "province_code": PROVINCE},
                      headers=prov)).raise_for_status()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "national_id", "school_code", "subject", "stage", "title", "hired_on"])
    for i in range(teachers):
        writer.writerow([f"教师{i}", national_id(i), SCHOOL, "数学", "小学", "一级教师", "2015-09-01"])
    imported = await client.post("/v1/teachers/import", content=out.getvalue().encode(),
                                 headers={**prov, "Content-Type": "text/csv"}, timeout=300)
    imported.raise_for_status()
    teacher_ids = imported.json()["teacher_ids"]
    starts, ends = _project_dates(date.today())
    project = await client.post("/v1/projects", headers=prov, json={
        "code": f"GP-{uuid.uuid4().hex[:8]}", "name": "国培计划·农村骨干教师培训", "level": "national",
        "category": "农村骨干教师分层分类培训", "year": starts.year, "host_id": host, "organizer_code": PROVINCE,
        "hours": 30, "hour_category": "centralized", "starts_on": starts.isoformat(), "ends_on": ends.isoformat(),
        "cross_year": False, "practical_ratio": 0.6,
        "modules": [{"name": "师德第一课", "hours": 3, "kind": "ethics"},
                    {"name": "课堂实践", "hours": 27, "practical": True}]})
    project.raise_for_status()
    pid = project.json()["id"]
    for step in ("submit-plan", "approve", "open"):
        (await client.post(f"/v1/projects/{pid}/{step}", headers=prov)).raise_for_status()
    (await client.put(f"/v1/projects/{pid}/quotas/{COUNTY}", json={"places": teachers},
                      headers=prov)).raise_for_status()
    return pid, teacher_ids


async def measure(work: Path, requests: int, concurrency: int) -> dict[str, LoadResult]:
    keys = work / "keys"
    ensure_dev_keys(keys)
    server = start_postgres(work)
    nats = start_nats(work)
    procs: list[subprocess.Popen] = []
    try:
        base_db, enr_db = with_database(server, "bench_baseline"), with_database(server, "bench_enrollment")
        for db in (base_db, enr_db):
            await ensure_database(db)
        base_port, enr_port = free_port(), free_port()
        procs.append(_serve("bench.baseline_app:app", base_port, {"DATABASE_URL": base_db}))
        procs.append(_serve("services.enrollment.main:app", enr_port, {
            "DATABASE_URL": enr_db, "NATS_URL": nats.url, "JWT_PUBLIC_KEYS": str(keys / "jwks.json"),
            "PII_KEY": ensure_pii_key(keys), "LOG_LEVEL": "WARNING", "BUS_NAMESPACE": "bench"}, profile=True))
        base_url, enr_url = f"http://127.0.0.1:{base_port}", f"http://127.0.0.1:{enr_port}"
        await asyncio.gather(_ready(base_url), _ready(enr_url))
        results: dict[str, LoadResult] = {}
        # Each figure runs after a warm-up of the same request on its own data (connections,
        # prepared statements, caches), so the first measured request is not a cold one.
        warm = max(concurrency, requests // 10)

        def insert(i: int):
            return "POST", "/rows", {"teacher_id": str(uuid.uuid4()), "region_code": COUNTY}, {}

        await run_load(base_url, insert, warm, concurrency)
        results["baseline insert"] = await run_load(base_url, insert, requests, concurrency)
        async with httpx.AsyncClient(base_url=enr_url, timeout=60) as client:
            pid, teacher_ids = await seed(client, keys, warm + requests)
        county = {"Authorization": f"Bearer {mint_token(keys, 'county_admin', org=COUNTY)}"}

        def nominate(offset: int):
            return lambda i: ("POST", f"/v1/projects/{pid}/nominations",
                              {"teacher_id": teacher_ids[offset + i], "region_code": COUNTY},
                              {**county, "Idempotency-Key": f"nom-{offset + i}"})

        await run_load(enr_url, nominate(0), warm, concurrency)
        results["nominate"] = await run_load(enr_url, nominate(warm), requests, concurrency)
        conn = await asyncpg.connect(enr_db)
        try:
            rows = await conn.fetch("SELECT id, teacher_id FROM enrollments WHERE project_id = $1 ORDER BY id",
                                    uuid.UUID(pid))
        finally:
            await conn.close()
        # Teachers check themselves in from the app: each request carries that teacher's token.
        checkins = [(str(r["id"]), {"Authorization": f"Bearer {mint_token(keys, 'teacher', sub=str(r['teacher_id']))}",
                                    "Idempotency-Key": f"chk-{r['id']}"}) for r in rows]

        def check_in(offset: int):
            return lambda i: ("POST", f"/v1/enrollments/{checkins[offset + i][0]}/check-in", None,
                              checkins[offset + i][1])

        await run_load(enr_url, check_in(0), warm, concurrency)
        results["check-in"] = await run_load(enr_url, check_in(warm), len(checkins) - warm, concurrency)
        return results
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)  # py-spy (with --profile) writes its stacks on SIGINT
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        nats.stop()
        stop_postgres(work)


def render(results: dict[str, LoadResult], requests: int, concurrency: int, command: str) -> str:
    base = results["baseline insert"]
    lines = [
        "# Benchmarks", "",
        f"Measured {date.today().isoformat()} on {platform.node() or 'this machine'}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.machine()}. Embedded PostgreSQL and NATS from the wheels, "
        f"all processes on one machine. {requests} requests per figure, {concurrency} concurrent clients "
        "(closed loop, HTTP/1.1 keep-alive, aiohttp client).", "",
        f"Reproduce: `{command}`", "",
        "| figure | ours (req/s) | baseline (req/s) | ratio | p50 ms (ours / base) | p99 ms (ours / base) | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("nominate", "check-in"):
        r = results[name]
        ratio = r.throughput / base.throughput if base.throughput else 0.0
        lines.append(f"| {name} | {r.throughput:.0f} | {base.throughput:.0f} | {ratio:.2f} | "
                     f"{r.p50:.1f} / {base.p50:.1f} | {r.p99:.1f} / {base.p99:.1f} | {r.errors} |")
    lines += ["", "Baseline: `bench/baseline_app.py`, a bare FastAPI + asyncpg endpoint doing one INSERT per "
              "request. Ours: the full command path — JWT verification, Idempotency-Key record, aggregate "
              "load, domain rules, race-free guards, query tables, event append with its outbox row, in one "
              "transaction — as a mobile app calls it (every request carries an Idempotency-Key).", "",
              *ANALYSIS]
    return "\n".join(lines)


# Written by hand from profiles; revisit whenever the figures above move.
ANALYSIS = """## What bounds the command path (2026-11-23)

- One nomination without contention takes ~14 ms in process against ~2 ms for the baseline
  request. asyncpg's query logger shows 17 statements in its transaction (idempotency lock and
  look-up, project, teacher, quota, national slots/attended/bars, three inserts, the guarded
  quota update, the commit-order lock, the append, the idempotency record, commit, and the
  pool's reset on release) at 0.25–0.5 ms per round trip: the path is bound by round trips.
- Removing the commit-ordering lock (shared/eventstore.py) changed nothing measurable
  (146 vs 131 req/s): commits are not what serialises us.
- All nominations in this benchmark go to one region of one project, so every transaction
  updates the same `project_quotas` row; that row lock is the price of a race-free quota and
  a worst case for throughput. Check-in has no shared row and is bound by round trips and
  Python time in one uvicorn worker on a 2-core machine that also runs PostgreSQL, NATS and
  the load generator.
- Next steps (issue 8): fold the read-only checks into one statement, the idempotency lock
  and look-up into one, lock + append + idempotency record into one; skip the pool's reset
  query; run two workers; measure again with the same harness.
""".splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to prove the harness works")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--skip-credits", action="store_true", help="leave out the credits projection figures")
    parser.add_argument("--credits-apply", type=int, default=20_000)
    parser.add_argument("--credits-rebuild", type=int, default=1_000_000)
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of the enrollment service")
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    if args.smoke:
        args.requests, args.concurrency = 20, 4
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as work:
        results = asyncio.run(measure(Path(work), args.requests, args.concurrency))
    command = "make bench" if not args.smoke else "python -m bench.run --smoke"
    text = render(results, args.requests, args.concurrency, command)
    if not args.smoke and not args.skip_credits:
        from bench import credits

        text += "\n## Credits projection\n\n" + credits.run_all(args.credits_apply, args.credits_rebuild)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(args.out.read_text(encoding="utf-8"))
    failed = {k: r.errors for k, r in results.items() if r.errors}
    if failed:
        print(f"requests failed: {failed}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
