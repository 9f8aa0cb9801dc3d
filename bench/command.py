"""The command path over HTTP — nominate, check in, record attendance — against the bare FastAPI +
asyncpg insert endpoint (bench/baseline_app.py), on the same machine in the same run.

Per command, on fresh enrollments each time (every request is a real state change):
1. closed loop: `concurrency` clients, `requests` requests after a warm-up of the same request
   → throughput and p50/p99; the baseline runs the same closed loop;
2. open loop at the same load for both: requests start at a fixed rate R = `open_load` × our
   closed-loop throughput for `open_seconds`, on ours and on the baseline; latency counts from each
   request's scheduled start → p50/p99 of each at the same arrival rate. (At R = 100 % of our
   capacity our queue would grow for as long as the run lasts, so its p99 would measure the run's
   length; below capacity it measures the service.) Each side's run starts on a settled server
   (`settle`, Stack.settle: no autovacuum debt of earlier figures left to land in it) and opens with
   `open_warm` seconds of the same schedule that are not timed (sessions planning their statements
   again after the settle's ANALYZE, connections opened).

Every request carries an Idempotency-Key, as the mobile app sends it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from bench.load import LoadResult, RequestFactory, run_load, run_open_loop
from bench.seed import COUNTY, World, ensure_teachers

CLOSED = "closed"
OPEN = "open"


Cpu = Callable[[str], tuple[float, float]]  # URL -> CPU seconds so far (its process, PostgreSQL)
Settle = Callable[[], Awaitable[None]]  # before each open-loop run (Stack.settle)
Sample = Callable[[str, str], AbstractAsyncContextManager[None]]  # (URL, figure) -> profiled while inside


@dataclass
class CommandResults:
    baseline: dict[str, LoadResult]  # "closed" and, per command, "open <command>"
    ours: dict[str, dict[str, LoadResult]]  # command -> {"closed": ..., "open": ...}
    # figure ("baseline", a floor or a command) -> CPU ms per request of (the HTTP process,
    # PostgreSQL), over its closed-loop run
    cpu_ms: dict[str, tuple[float, float]] = field(default_factory=dict)
    floors: dict[str, LoadResult] = field(default_factory=dict)  # FLOORS' names -> closed loop


# The commands' floor (bench/baseline_app.py): attendance's SQL alone behind bare FastAPI, in the
# kernel's four round trips and in the optimistic two. Figure name -> the route's shape; under
# `make bench-profile` its files are named floor-<shape>.
FLOORS = {"floor (the kernel's 4 round trips)": "kernel", "floor (optimistic, 2 round trips)": "optimistic"}


async def _costed(cpu: Cpu, url: str, into: dict[str, tuple[float, float]], name: str, run,
                  sample: Sample | None = None, label: str | None = None) -> LoadResult:
    """Run a closed-loop figure and record its CPU per request on `url`'s process and PostgreSQL;
    under `make bench-profile`, `sample` profiles `url`'s process meanwhile (Stack.sampling), its
    files named `label` (the figure's name unless given)."""
    async with sample(url, label or name) if sample else contextlib.nullcontext():
        app0, pg0 = cpu(url)
        result = await run
        app1, pg1 = cpu(url)
    n = max(1, result.requests)
    into[name] = ((app1 - app0) * 1000 / n, (pg1 - pg0) * 1000 / n)
    return result


def _insert(i: int):
    return "POST", "/rows", {"teacher_id": str(uuid.uuid4()), "region_code": COUNTY}, {}


def _floor(shape: str, enrollments: list[str]):
    body = {"session_date": "2026-12-01", "status": "present", "hours": 6}
    return lambda i: ("POST", f"/floor/{shape}/{enrollments[i]}", body, {"Idempotency-Key": f"floor-{i}"})


async def _floor_enrollments(base_url: str, n: int) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        r = await client.post("/floor/enrollments", params={"n": n})
        r.raise_for_status()
        return r.json()


async def measure_floors(base_url: str, requests: int, concurrency: int, cpu: Cpu,
                         into: dict[str, tuple[float, float]], sample: Sample | None = None) -> dict[str, LoadResult]:
    """Each floor's closed loop, as a command's: a warm-up, then `requests` on enrollments of their own."""
    warm = max(concurrency, requests // 10)
    out = {}
    for name, shape in FLOORS.items():
        ids = await _floor_enrollments(base_url, warm + requests)
        await run_load(base_url, _floor(shape, ids), warm, concurrency)
        out[name] = await _costed(cpu, base_url, into, name, run_load(base_url, _floor(shape, ids[warm:]), requests,
                                                                      concurrency), sample, f"floor-{shape}")
        if out[name].errors:  # a floor that did not write is no floor
            raise RuntimeError(f"{name}: {out[name].errors} of {requests} requests failed")
    return out


def nominate(world: World, teachers: list[str]):
    county = world.auth("county_admin", COUNTY)
    key = uuid.uuid4().hex[:8]
    return lambda i: ("POST", f"/v1/projects/{world.project_id}/nominations",
                      {"teacher_id": teachers[i], "region_code": COUNTY},
                      {**county, "Idempotency-Key": f"nom-{key}-{i}"})


def check_in(world: World, enrollments: list[tuple[str, str]]):
    # Teachers check themselves in from the app: each request carries that teacher's token.
    tokens = [world.auth("teacher", sub=t) for _, t in enrollments]
    return lambda i: ("POST", f"/v1/enrollments/{enrollments[i][0]}/check-in", None,
                      {**tokens[i], "Idempotency-Key": f"chk-{enrollments[i][0]}"})


def attendance(world: World, enrollments: list[tuple[str, str]], day: int):
    host = world.auth("host", world.host_id)
    session = world.starts_on + timedelta(days=day)
    body = {"session_date": session.isoformat(), "status": "present", "hours": 6}
    return lambda i: ("POST", f"/v1/enrollments/{enrollments[i][0]}/attendance", body,
                      {**host, "Idempotency-Key": f"att-{day}-{enrollments[i][0]}"})


async def _nominated(world: World, teachers: list[str]) -> list[tuple[str, str]]:
    got = await world.enrollments(teachers)
    if len(got) != len(teachers):
        raise RuntimeError(f"{len(teachers) - len(got)} nominations missing")
    return got


async def _settled() -> None:
    return None


async def measure(world: World, base_url: str, requests: int, concurrency: int, open_load: float,
                  open_seconds: float, cpu: Cpu, sample: Sample | None = None, settle: Settle = _settled,
                  open_warm: float = 0.0) -> CommandResults:
    warm = max(concurrency, requests // 10)
    base: dict[str, LoadResult] = {}
    costs: dict[str, tuple[float, float]] = {}
    await run_load(base_url, _insert, warm, concurrency)
    base[CLOSED] = await _costed(cpu, base_url, costs, "baseline", run_load(base_url, _insert, requests, concurrency),
                            sample)
    floors = await measure_floors(base_url, requests, concurrency, cpu, costs, sample)
    ours: dict[str, dict[str, LoadResult]] = {"nominate": {}, "check-in": {}, "attendance": {}}

    def open_rate(closed: LoadResult) -> tuple[float, int]:
        rate = max(1.0, open_load * closed.throughput)
        return rate, max(10, int(rate * open_seconds))

    async def open_pair(name: str, ours_url: str, factory: RequestFactory, rate: float, lead: int, total: int) -> None:
        """Ours, then the baseline, each on a settled server, each after its untimed warm-up:
        `total` timed requests after `lead` of the same schedule."""
        await settle()
        ours[name][OPEN] = await run_open_loop(ours_url, factory, rate, lead + total, warm=lead)
        await settle()
        base[f"open {name}"] = await run_open_loop(base_url, _insert, rate, lead + total, warm=lead)

    # nominate: each request nominates a teacher not yet nominated
    await ensure_teachers(world, warm + requests)
    warm_t, closed_t = world.take_teachers(warm), world.take_teachers(requests)
    await run_load(world.url, nominate(world, warm_t), warm, concurrency)
    ours["nominate"][CLOSED] = await _costed(cpu, world.url, costs, "nominate",
                                             run_load(world.url, nominate(world, closed_t), requests, concurrency),
                                             sample)
    rate, total = open_rate(ours["nominate"][CLOSED])
    lead = int(rate * open_warm)
    await ensure_teachers(world, lead + total)
    open_t = world.take_teachers(lead + total)
    await open_pair("nominate", world.url, nominate(world, open_t), rate, lead, total)

    # check-in: each request checks in one of the enrollments just made
    warm_e, closed_e, open_e = [await _nominated(world, t) for t in (warm_t, closed_t, open_t)]
    await run_load(world.url, check_in(world, warm_e), len(warm_e), concurrency)
    ours["check-in"][CLOSED] = await _costed(cpu, world.url, costs, "check-in",
                                             run_load(world.url, check_in(world, closed_e), len(closed_e), concurrency),
                                             sample)
    rate, total = open_rate(ours["check-in"][CLOSED])
    lead = min(int(rate * open_warm), len(open_e) // 4)
    total = min(total, len(open_e) - lead)
    await open_pair("check-in", world.url, check_in(world, open_e), rate, lead, total)
    if lead + total < len(open_e):  # the rest still need their check-in for the figures that follow
        rest = open_e[lead + total:]
        await run_load(world.url, check_in(world, rest), len(rest), concurrency)
    checked_in = warm_e + closed_e + open_e

    # attendance: one session's attendance per request, on checked-in enrollments
    await run_load(world.url, attendance(world, checked_in, 0), warm, concurrency)
    ours["attendance"][CLOSED] = await _costed(cpu, world.url, costs, "attendance", run_load(
        world.url, attendance(world, checked_in[warm:], 0), requests, concurrency), sample)
    rate, total = open_rate(ours["attendance"][CLOSED])
    lead = min(int(rate * open_warm), len(checked_in) // 4)
    total = min(total, len(checked_in) - lead)
    await open_pair("attendance", world.url, attendance(world, checked_in, 1), rate, lead, total)
    world.checked_in += checked_in
    return CommandResults(base, ours, costs, floors)


async def seed_checked_in(world: World, n: int, concurrency: int) -> None:
    """Nominate and check in `n` more teachers (not measured): enrollments for the freshness figure."""
    await ensure_teachers(world, n)
    teachers = world.take_teachers(n)
    await run_load(world.url, nominate(world, teachers), n, concurrency)
    made = await _nominated(world, teachers)
    await run_load(world.url, check_in(world, made), len(made), concurrency)
    world.checked_in += made
