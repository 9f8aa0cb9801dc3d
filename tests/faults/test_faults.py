"""Issues 9 and 19's fault runs: the four services as real processes on real PostgreSQL and a
3-node NATS cluster (R3 streams), under a steady open-loop command load of FAULTS_RATE commands/s
(default 160) with a known outcome (tests/faults/world.py), while one piece fails:

- kill -9 of each service in turn, then a restart with the same environment;
- the whole NATS cluster stopped for 30 s;
- one NATS node killed with -9 (the enrollment stream's leader), restarted;
- one NATS node (the enrollment stream's leader) partitioned from the other two for 10 s by the
  route proxy, then healed;
- PostgreSQL stopped for 10 s and started again on the same data.

After each: every acknowledged command is in every read model exactly once (the figures equal
the expected ones), outboxes are empty. Each run also proves its load: the rate offered, and the
rate acknowledged before the fault, must both reach FAULTS_MIN_RATE (default 150/s), or the
scenario fails saying so. `make test-faults` runs them (not part of `make test`). Each run's
figures go to test-output/faults/<scenario>.json (docs/reliability.md quotes them).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from datetime import timedelta

import httpx
import nats
import pytest

from shared.bus import BusNames
from shared.settings import REPO_ROOT
from tests.faults.cpu import CpuMeter
from tests.faults.load import Driver
from tests.faults.stack import BUS_NAMESPACE, SERVICES, FaultStack, catchups_logged
from tests.faults.world import Wave, converge, expected, prepare, run_load

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]

RATE = float(os.environ.get("FAULTS_RATE", 160))  # commands per second offered, open loop
MIN_RATE = float(os.environ.get("FAULTS_MIN_RATE", 150))  # issue 19: a run below it fails
# A load that kept the machine SATURATED busy was as heavy as the machine could carry: CI's shared
# 2 cores ran the same code at 11 and at 20 ms of CPU per command hours apart. Such a load passes at
# FAULTS_SATURATED_MIN_RATE; by default that is FAULTS_MIN_RATE itself (no allowance).
SATURATED_MIN_RATE = float(os.environ.get("FAULTS_SATURATED_MIN_RATE", MIN_RATE))
SATURATED = 90.0  # % of all cores
SECONDS = float(os.environ.get("FAULTS_SECONDS", 20))  # one load's length at RATE
N = round(RATE * SECONDS / Wave.COMMANDS_PER_STEP)  # steps per load: 4N commands under fault
FAULT_AT = SECONDS / 3  # load second of the fault: every consumer is busy by then
BURST = 40  # attendance records sent at once just before enrollment is killed


def report(name: str, figures: dict) -> None:
    out = REPO_ROOT / "test-output" / "faults"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False, default=str))
    print(f"\n{name}: {json.dumps(figures, ensure_ascii=False, default=str)}")


def load_figures(driver: Driver, wave: Wave, prepared: int, fault_at: float) -> dict:
    """What the load was and what the clients saw. `prepared`: acknowledgments before the load
    (setup); `fault_at`: time.monotonic() of the fault. The rate before the fault is measured from
    the load's second 1 (the first answers are still on their way at second 0)."""
    acks = driver.acked_at[prepared:]
    lat = sorted(driver.latencies[prepared:])
    window = fault_at - (wave.started + 1)
    before = sum(wave.started + 1 <= t < fault_at for t in acks) / window if window > 0 else 0.0
    return {"rate offered (commands/s)": round(wave.commands / wave.sent_seconds, 1),
            "rate acknowledged before the fault (commands/s)": round(before, 1),
            "rate acknowledged over the whole load (commands/s)": round(wave.acked / wave.seconds, 1),
            "load commands": wave.commands, "commands acknowledged (load)": wave.acked,
            "setup commands": prepared, "acknowledged on a retry": driver.retried,
            "replayed from the idempotency record": driver.replayed, "load seconds": round(wave.seconds, 1),
            "latency p50/p99/max (s)": [round(statistics.median(lat), 3), round(lat[int(0.99 * (len(lat) - 1))], 3),
                                        round(lat[-1], 3)] if lat else None,
            "statuses seen": {str(k): v for k, v in sorted(driver.statuses.items(), key=str)},
            "transport errors": dict(driver.transport_errors)}


def assert_rate(figures: dict) -> None:
    """Issue 19 asks for the faults at ≥ 150 commands/s: a slower run is not evidence of it. The
    load counts as sustained when the acknowledgements kept up over the whole load, fault included,
    or — where the fault itself holds commands back (503s while PostgreSQL is down, a killed
    enrollment) — over the seconds before it. The short window before the fault alone moves by
    ±15 % between runs of the same code (one slow second in under six), the whole load much less.
    Where a window kept the machine ≥ SATURATED % busy, the machine gave all it had: that window
    counts at SATURATED_MIN_RATE (CI's allowance for a machine running at half its usual speed)."""
    offered = figures["rate offered (commands/s)"]
    before = figures["rate acknowledged before the fault (commands/s)"]
    whole = figures["rate acknowledged over the whole load (commands/s)"]
    cpu = figures["cpu during the load"]
    busy_before = cpu["machine busy before the fault (% of all cores)"] or 0.0
    busy_whole = cpu["machine busy (% of all cores)"]
    saturated = any(busy >= SATURATED and rate >= SATURATED_MIN_RATE
                    for rate, busy in ((before, busy_before), (whole, busy_whole)))
    assert offered >= MIN_RATE and (max(before, whole) >= MIN_RATE or saturated), (
        f"load below {MIN_RATE:g} commands/s: offered {offered}, acknowledged before the fault {before} "
        f"(machine {busy_before:g} % busy), over the whole load {whole} (machine {busy_whole:g} % busy); "
        f"a window with the machine ≥ {SATURATED:g} % busy passes at {SATURATED_MIN_RATE:g}/s "
        f"(FAULTS_RATE / FAULTS_MIN_RATE / FAULTS_SATURATED_MIN_RATE set the targets)")


def assert_all_acknowledged(driver: Driver, wave: Wave) -> None:
    assert driver.unexpected == [], driver.unexpected[:5]
    assert len(wave.completed) == len(wave.attended) == len(wave.checked_in) == len(wave.b_enrollments) == wave.n
    assert not driver.five_xx_not_503, driver.five_xx_not_503


async def until_load_second(wave: Wave, second: float) -> float:
    await asyncio.sleep(max(0.0, wave.started + second - time.monotonic()))
    return time.monotonic()


@pytest.mark.parametrize("victim", SERVICES)
async def test_kill_9_each_service_mid_load_then_restart(fault_stack: FaultStack, victim: str):
    stack = fault_stack
    async with Driver() as driver, Driver() as burst_driver:  # the burst's answers apart from the load's
        wave = await prepare(stack, driver, stack.world, N)
        prepared = driver.acked
        logged_before = catchups_logged()
        meter = CpuMeter(stack)
        meter.start()
        load = asyncio.create_task(run_load(stack, driver, wave, RATE))
        await asyncio.sleep(0)  # let the load start its clock
        await until_load_second(wave, FAULT_AT)
        pid = stack.procs[victim].pid
        burst = None
        if victim == "enrollment":  # kill it with commands in flight: some commit, their answer is lost
            burst = asyncio.create_task(attendance_burst(stack, burst_driver, wave))
            wave.hold.update(dict.fromkeys(wave.a_enrollments[-BURST:], burst))
            deadline = time.monotonic() + 2
            while burst_driver.in_flight < BURST // 2 and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.08)  # let some of them commit
        in_flight = driver.in_flight + burst_driver.in_flight
        meter.fault()
        stack.kill(victim)
        killed_at = time.monotonic()
        await asyncio.sleep(2)
        back_in = await stack.restart(victim)
        await load
        cpu = meter.figures(wave.acked)
        if burst is not None:
            assert all(await burst), f"every attendance record of the burst acknowledged: {burst_driver.unexpected[:3]}"
        figures, took = await converge(stack, wave)
    logged_after = catchups_logged()
    catchups = {k: n - logged_before.get(k, 0) for k, n in logged_after.items() if n != logged_before.get(k, 0)}
    assert_all_acknowledged(driver, wave)
    assert not burst_driver.five_xx_not_503, burst_driver.five_xx_not_503
    if burst is not None:  # each acknowledged once, whether its first attempt committed or not
        figures["enrollment AttendanceRecorded (burst)"], figures["enrollment attendance streams (burst)"] = [
            *(await stack.fetch("enrollment", "SELECT count(*), count(DISTINCT stream_id) FROM events WHERE "
                                "type = 'AttendanceRecorded' AND data->>'enrollment_id' = ANY($1::text[]) "
                                "AND data->>'session_date' = $2", wave.a_enrollments[-BURST:],
                                burst_day(wave).isoformat()))[0]]
    assert stack.procs[victim].pid != pid
    result = {"victim": victim, "down seconds": round(2 + back_in, 1), "ready after restart (s)": round(back_in, 1),
              **load_figures(driver, wave, prepared, killed_at), "converged after load (s)": round(took, 1),
              "killed at load second": round(killed_at - wave.started, 1),
              "requests in flight at the kill": in_flight,
              "catch-ups from the owner's feed (service: count)": catchups, "cpu during the load": cpu,
              "figures": figures}
    if burst is not None:
        result["burst"] = {"commands": BURST, "acknowledged on a retry": burst_driver.retried,
                           "replayed from the idempotency record": burst_driver.replayed,
                           "statuses seen": {str(k): v for k, v in sorted(burst_driver.statuses.items(), key=str)},
                           "transport errors": dict(burst_driver.transport_errors)}
    report(f"kill-{victim}", result)
    want = expected(wave)
    if burst is not None:
        want["enrollment AttendanceRecorded (burst)"] = want["enrollment attendance streams (burst)"] = BURST
    assert figures == want
    # A killed consumer's fetched messages come back after the ack wait, their successors first:
    # waiting for them is right, presuming them lost and reading the owner's whole feed is not.
    assert catchups == {}, f"a projection presumed retention loss after the kill: {catchups}"
    assert_rate(result)


def burst_day(wave: Wave):
    return wave.session_date + timedelta(days=1)  # the load records the first day


async def attendance_burst(stack: FaultStack, driver: Driver, wave: Wave) -> list:
    """BURST attendance records at once (on enrollments whose completion comes last), so the
    kill finds requests in flight."""
    body = {"session_date": burst_day(wave).isoformat(), "status": "present", "hours": 6}
    return await asyncio.gather(*(
        driver.send(stack.url("enrollment"), f"/v1/enrollments/{e}/attendance", f"att2-{e}", wave.host, body)
        for e in wave.a_enrollments[-BURST:]))


async def _outbox(stack: FaultStack) -> int:
    return await stack.fetchval("enrollment", "SELECT count(*) FROM outbox")


async def test_nats_cluster_stopped_30s_under_load(fault_stack: FaultStack):
    stack = fault_stack
    depth: list[tuple[float, int]] = []
    async with Driver() as driver:
        # Long enough to run through the outage and 5 s either side of it.
        wave = await prepare(stack, driver, stack.world, round(RATE * 45 / Wave.COMMANDS_PER_STEP))
        acked_before = driver.acked
        meter = CpuMeter(stack)
        meter.start()
        load = asyncio.create_task(run_load(stack, driver, wave, RATE))
        await asyncio.sleep(0)
        stopped_at = await until_load_second(wave, 5)
        meter.fault()
        await asyncio.to_thread(stack.stop_nats)
        t0 = time.monotonic()
        async with httpx.AsyncClient(timeout=5) as client:
            await asyncio.sleep(3)
            ready = {s: (await client.get(f"{stack.url(s)}/readyz")) for s in SERVICES}
        acked_at_stop = driver.acked
        while time.monotonic() - t0 < 30:
            depth.append((round(time.monotonic() - t0, 1), await _outbox(stack)))
            await asyncio.sleep(1)
        acked_during = driver.acked - acked_at_stop
        await asyncio.to_thread(stack.start_nats)
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
        cpu = meter.figures(wave.acked)
        figures, took = await converge(stack, wave)
    assert_all_acknowledged(driver, wave)
    for s, r in ready.items():
        assert r.status_code == 200 and r.json().get("status") == "degraded", (s, r.status_code, r.text)
    peak = max(d for _, d in depth)
    result = {**load_figures(driver, wave, acked_before, stopped_at),
              "acknowledged while NATS was down": acked_during, "outbox peak depth": peak,
              "cluster back (s after start)": round(restarted - t0 - 30, 1),
              "outbox drained after NATS restart (s)": drained_at and round(drained_at, 1),
              "converged after load (s)": round(took, 1), "outbox depth samples": depth,
              "readyz while down": {s: r.json() for s, r in ready.items()}, "cpu during the load": cpu,
              "figures": figures}
    report("nats-cluster-stopped-30s", result)
    assert acked_during > 100, "commands kept succeeding while NATS was down"
    assert peak > 100, "the outbox grew while NATS was down"
    assert figures == expected(wave)
    assert_rate(result)


async def enrollment_stream_leader(stack: FaultStack) -> int:
    """The index of the node leading enrollment's stream (the busiest one): the node whose loss
    forces an election with publishes in flight."""
    assert stack.nats is not None
    nc = await nats.connect(stack.nats.url.split(","), connect_timeout=2)
    try:
        deadline = time.monotonic() + 30
        while True:  # right after a heal the stream may still be electing
            try:
                info = await asyncio.wait_for(
                    nc.jetstream().stream_info(BusNames(BUS_NAMESPACE).stream("enrollment")), 3)
                if info.cluster is not None and info.cluster.leader:
                    break
            except (TimeoutError, nats.errors.Error):
                pass
            assert time.monotonic() < deadline, "the enrollment stream has a leader again"
            await asyncio.sleep(0.2)
    finally:
        await nc.close()
    assert info.config.num_replicas == 3
    return int(info.cluster.leader.removeprefix("n"))


def has_routes(stack: FaultStack, node: int) -> bool:
    """False while the node still has a route to a peer (a killed node has none)."""
    assert stack.nats is not None
    if not stack.nats.nodes[node].alive:
        return False
    try:
        return stack.nats.routes(node) > 0
    except httpx.HTTPError:
        return False


async def nats_node_fault(stack: FaultStack, name: str, fault, heal, down_for: float) -> None:
    """One NATS node out (the enrollment stream's leader) for `down_for` seconds under load, then
    back; the cluster must lose nothing acknowledged and double nothing."""
    assert stack.nats is not None
    async with Driver() as driver:
        wave = await prepare(stack, driver, stack.world, N)
        prepared = driver.acked
        node = await enrollment_stream_leader(stack)
        meter = CpuMeter(stack)
        meter.start()
        load = asyncio.create_task(run_load(stack, driver, wave, RATE))
        await asyncio.sleep(0)
        fault_at = await until_load_second(wave, FAULT_AT)
        meter.fault()
        await asyncio.to_thread(fault, node)
        acked_at_fault = driver.acked
        cut_off_in = None
        while time.monotonic() - fault_at < down_for:
            if cut_off_in is None and not await asyncio.to_thread(has_routes, stack, node):
                cut_off_in = time.monotonic() - fault_at
            await asyncio.sleep(0.2)
        acked_during = driver.acked - acked_at_fault
        healed_at = time.monotonic()
        await asyncio.to_thread(heal, node)
        healthy_in = await asyncio.to_thread(stack.nats.wait_healthy)
        new_leader = await enrollment_stream_leader(stack)
        await load
        cpu = meter.figures(wave.acked)
        figures, took = await converge(stack, wave)
    assert_all_acknowledged(driver, wave)
    result = {"node": f"n{node} (the enrollment stream's leader)", "out for (s)": round(healed_at - fault_at, 1),
              "acknowledged while the node was out": acked_during,
              "node cut off from its peers after (s)": cut_off_in and round(cut_off_in, 1),
              "cluster healthy after the node came back (s)": round(healthy_in, 1),
              "enrollment stream leader afterwards": f"n{new_leader}",
              **load_figures(driver, wave, prepared, fault_at), "converged after load (s)": round(took, 1),
              "cpu during the load": cpu, "figures": figures}
    report(name, result)
    assert cut_off_in is not None, "the node lost its routes (it was really out)"
    assert acked_during > 0, "commands kept succeeding with one node out"
    assert figures == expected(wave)
    assert_rate(result)


async def test_nats_node_killed_under_load(fault_stack: FaultStack):
    nodes = fault_stack.nats
    assert nodes is not None
    await nats_node_fault(fault_stack, "nats-node-killed", nodes.kill, nodes.start_node, down_for=5)


async def test_nats_node_partitioned_under_load(fault_stack: FaultStack):
    nodes = fault_stack.nats
    assert nodes is not None
    await nats_node_fault(fault_stack, "nats-node-partitioned", nodes.partition, lambda _node: nodes.heal(),
                          down_for=10)


async def test_postgres_stopped_10s_under_load(fault_stack: FaultStack):
    stack = fault_stack
    pids = {s: p.pid for s, p in stack.procs.items()}
    async with Driver() as driver:
        wave = await prepare(stack, driver, stack.world, N)
        acked_before = driver.acked
        meter = CpuMeter(stack)
        meter.start()
        load = asyncio.create_task(run_load(stack, driver, wave, RATE))
        await asyncio.sleep(0)
        fault_at = await until_load_second(wave, FAULT_AT)
        before_stop = dict(driver.statuses)
        meter.fault()
        await asyncio.to_thread(stack.stop_postgres)
        t0 = time.monotonic()
        # A /readyz waits its turn behind the 503 storm on a loaded machine: 5 s was not always enough.
        async with httpx.AsyncClient(timeout=20) as client:
            await asyncio.sleep(4)
            down, readyz_s = {}, {}
            for s in SERVICES:
                asked = time.monotonic()
                down[s] = await client.get(f"{stack.url(s)}/readyz")
                readyz_s[s] = round(time.monotonic() - asked, 2)
            await asyncio.sleep(max(0.0, t0 + 10 - time.monotonic()))
            await asyncio.to_thread(stack.start_postgres)
            outage = time.monotonic() - t0
            recovered = {s: await stack.ready(s, timeout=60) for s in SERVICES}
        await load
        cpu = meter.figures(wave.acked)
        figures, took = await converge(stack, wave)
    during = {str(k): v - before_stop.get(k, 0) for k, v in driver.statuses.items()}
    result = {**load_figures(driver, wave, acked_before, fault_at),
              "outage seconds": round(outage, 1), "statuses from the stop on": during,
              "readyz while down": {s: r.status_code for s, r in down.items()}, "readyz answered in (s)": readyz_s,
              "ready again after restart (s)": {s: round(v, 1) for s, v in recovered.items()},
              "sample 503": driver.problems_503[:1],
              "converged after load (s)": round(took, 1), "cpu during the load": cpu, "figures": figures}
    report("postgres-stopped-10s", result)
    assert outage >= 10
    assert_all_acknowledged(driver, wave)
    assert {s: p.pid for s, p in stack.procs.items()} == pids, "no service was restarted"
    assert all(p.poll() is None for p in stack.procs.values())
    assert all(r.status_code == 503 for r in down.values()), {s: r.status_code for s, r in down.items()}
    assert driver.statuses[503] > 0, "clients saw the outage as 503"
    assert not driver.transport_errors, f"no dropped connections, only 503s: {driver.transport_errors}"
    for p in driver.problems_503:
        assert p["content_type"].startswith("application/problem+json") and p["retry_after"], p
    assert figures == expected(wave)
    assert_rate(result)
