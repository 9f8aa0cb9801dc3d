"""Issue 9's fault runs: the four services as real processes on real PostgreSQL and NATS, under a
steady command load with a known outcome (tests/faults/world.py), while one piece fails:

- kill -9 of each service in turn, then a restart with the same environment;
- NATS stopped for 30 s;
- PostgreSQL stopped and started again on the same data.

After each: every acknowledged command is in every read model exactly once (the figures equal
the expected ones), outboxes are empty. `make test-faults` runs them (not part of `make test`).
Each run's figures go to test-output/faults/<scenario>.json (docs/reliability.md quotes them).
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import httpx
import pytest

from shared.settings import REPO_ROOT
from tests.faults.load import Driver
from tests.faults.stack import SERVICES, FaultStack
from tests.faults.world import converge, expected, prepare, run_load

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]

N = int(os.environ.get("FAULTS_N", 200))  # teachers per project: 3N commands under fault
RATE = 8.0  # i per second → 24 commands/s
BURST = 40  # attendance records sent at once just before enrollment is killed


def report(name: str, figures: dict) -> None:
    out = REPO_ROOT / "test-output" / "faults"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False, default=str))
    print(f"\n{name}: {json.dumps(figures, ensure_ascii=False, default=str)}")


def load_figures(driver: Driver, wave) -> dict:
    return {"commands acknowledged": driver.acked, "acknowledged on a retry": driver.retried,
            "replayed from the idempotency record": driver.replayed, "load seconds": round(wave.seconds, 1),
            "statuses seen": {str(k): v for k, v in sorted(driver.statuses.items(), key=str)},
            "transport errors": dict(driver.transport_errors)}


def assert_all_acknowledged(driver: Driver, wave) -> None:
    assert driver.unexpected == [], driver.unexpected[:5]
    assert len(wave.completed) == len(wave.checked_in) == len(wave.b_enrollments) == wave.n
    assert not driver.five_xx_not_503, driver.five_xx_not_503


@pytest.mark.parametrize("victim", SERVICES)
async def test_kill_9_each_service_mid_load_then_restart(fault_stack: FaultStack, victim: str):
    stack = fault_stack
    async with Driver() as driver:
        wave = await prepare(stack, driver, stack.world, N)
        prepared = driver.acked
        load = asyncio.create_task(run_load(stack, driver, wave, RATE))
        await asyncio.sleep(N / RATE / 3)  # a third of the way in: every consumer is busy
        pid = stack.procs[victim].pid
        burst = None
        if victim == "enrollment":  # kill it with commands in flight: some commit, their answer is lost
            burst = asyncio.create_task(attendance_burst(stack, driver, wave))
            deadline = time.monotonic() + 2
            while driver.in_flight < BURST // 2 and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.08)  # let some of them commit
        in_flight = driver.in_flight
        stack.kill(victim)
        killed_at = time.monotonic()
        await asyncio.sleep(2)
        back_in = await stack.restart(victim)
        await load
        if burst is not None:
            assert all(await burst), "every attendance record of the burst acknowledged"
        figures, took = await converge(stack, wave)
    assert_all_acknowledged(driver, wave)
    if burst is not None:  # each acknowledged once, whether its first attempt committed or not
        figures["enrollment AttendanceRecorded (burst)"], figures["enrollment attendance streams (burst)"] = [
            *(await stack.fetch("enrollment", "SELECT count(*), count(DISTINCT stream_id) FROM events WHERE "
                                "type = 'AttendanceRecorded' AND data->>'enrollment_id' = ANY($1::text[])",
                                wave.a_enrollments[-BURST:]))[0]]
    assert stack.procs[victim].pid != pid
    report(f"kill-{victim}", {"victim": victim, "down seconds": round(2 + back_in, 1),
                              "ready after restart (s)": round(back_in, 1),
                              **load_figures(driver, wave), "setup commands": prepared,
                              "converged after load (s)": round(took, 1),
                              "killed at load second": round(killed_at - wave.started, 1),
                              "requests in flight at the kill": in_flight,
                              "figures": figures})
    want = expected(wave)
    if burst is not None:
        want["enrollment AttendanceRecorded (burst)"] = want["enrollment attendance streams (burst)"] = BURST
    assert figures == want


async def attendance_burst(stack: FaultStack, driver: Driver, wave) -> list:
    """BURST attendance records at once (on enrollments whose completion comes last), so the
    kill finds requests in flight."""
    body = {"session_date": wave.world.starts_on.isoformat(), "status": "present", "hours": 6}
    return await asyncio.gather(*(
        driver.send(stack.url("enrollment"), f"/v1/enrollments/{e}/attendance", f"att-{e}", wave.host, body)
        for e in wave.a_enrollments[-BURST:]))


async def _outbox(stack: FaultStack) -> int:
    return await stack.fetchval("enrollment", "SELECT count(*) FROM outbox")


async def test_nats_stopped_30s_under_load(fault_stack: FaultStack):
    stack = fault_stack
    depth: list[tuple[float, int]] = []
    async with Driver() as driver:
        wave = await prepare(stack, driver, stack.world, 2 * N)
        acked_before = driver.acked
        load = asyncio.create_task(run_load(stack, driver, wave, RATE))
        await asyncio.sleep(5)
        stack.stop_nats()
        t0 = time.monotonic()
        async with httpx.AsyncClient(timeout=5) as client:
            await asyncio.sleep(3)
            ready = {s: (await client.get(f"{stack.url(s)}/readyz")) for s in SERVICES}
        acked_at_stop = driver.acked
        while time.monotonic() - t0 < 30:
            depth.append((round(time.monotonic() - t0, 1), await _outbox(stack)))
            await asyncio.sleep(1)
        acked_during = driver.acked - acked_at_stop
        stack.start_nats()
        restarted = time.monotonic()
        drained_at = None
        while drained_at is None or not load.done():
            d = await _outbox(stack)
            depth.append((round(time.monotonic() - t0, 1), d))
            if d == 0 and drained_at is None:
                drained_at = time.monotonic() - restarted
            if time.monotonic() - restarted > 180:
                break
            await asyncio.sleep(0.5)
        await load
        figures, took = await converge(stack, wave)
    assert_all_acknowledged(driver, wave)
    for s, r in ready.items():
        assert r.status_code == 200 and r.json().get("status") == "degraded", (s, r.status_code, r.text)
    peak = max(d for _, d in depth)
    report("nats-stopped-30s", {**load_figures(driver, wave), "setup commands": acked_before,
                                "acknowledged while NATS was down": acked_during, "outbox peak depth": peak,
                                "outbox drained after NATS restart (s)": drained_at and round(drained_at, 1),
                                "converged after load (s)": round(took, 1), "outbox depth samples": depth,
                                "readyz while down": {s: r.json() for s, r in ready.items()}, "figures": figures})
    assert acked_during > 100, "commands kept succeeding while NATS was down"
    assert peak > 100, "the outbox grew while NATS was down"
    assert figures == expected(wave)


async def test_postgres_restarted_under_load(fault_stack: FaultStack):
    stack = fault_stack
    pids = {s: p.pid for s, p in stack.procs.items()}
    async with Driver() as driver:
        wave = await prepare(stack, driver, stack.world, N)
        acked_before = driver.acked
        load = asyncio.create_task(run_load(stack, driver, wave, RATE))
        await asyncio.sleep(6)
        before_stop = dict(driver.statuses)
        await asyncio.to_thread(stack.stop_postgres)
        t0 = time.monotonic()
        async with httpx.AsyncClient(timeout=5) as client:
            await asyncio.sleep(4)
            down = {s: await client.get(f"{stack.url(s)}/readyz") for s in SERVICES}
            await asyncio.sleep(6)
            await asyncio.to_thread(stack.start_postgres)
            outage = time.monotonic() - t0
            recovered = {s: await stack.ready(s, timeout=60) for s in SERVICES}
        await load
        figures, took = await converge(stack, wave)
    during = {str(k): v - before_stop.get(k, 0) for k, v in driver.statuses.items()}
    report("postgres-restarted", {**load_figures(driver, wave), "setup commands": acked_before,
                                  "outage seconds": round(outage, 1), "statuses from the stop on": during,
                                  "readyz while down": {s: r.status_code for s, r in down.items()},
                                  "ready again after restart (s)": {s: round(v, 1) for s, v in recovered.items()},
                                  "sample 503": driver.problems_503[:1],
                                  "converged after load (s)": round(took, 1), "figures": figures})
    assert_all_acknowledged(driver, wave)
    assert {s: p.pid for s, p in stack.procs.items()} == pids, "no service was restarted"
    assert all(p.poll() is None for p in stack.procs.values())
    assert all(r.status_code == 503 for r in down.values()), {s: r.status_code for s, r in down.items()}
    assert driver.statuses[503] > 0, "clients saw the outage as 503"
    assert not driver.transport_errors, f"no dropped connections, only 503s: {driver.transport_errors}"
    for p in driver.problems_503:
        assert p["content_type"].startswith("application/problem+json") and p["retry_after"], p
    assert figures == expected(wave)
