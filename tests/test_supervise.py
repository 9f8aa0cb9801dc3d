"""The background loops' supervisor (shared/supervise.py): a loop that dies of what it did not
expect is started again, counted and shown, stopping the service ends it, and a loop that is
alive but no longer turning is named as stalled."""

from __future__ import annotations

import asyncio

import httpx

from shared.envelope import EventRegistry
from shared.service import ServiceSpec, create_app
from shared.supervise import Heartbeat, Supervisor
from shared.telemetry import BACKGROUND_RESTARTS, BACKGROUND_STALLED
from tests.conftest import eventually, running


def _restarts(task: str) -> float:
    return BACKGROUND_RESTARTS.labels(service="sv-test", task=task)._value.get()


async def test_a_loop_that_raises_is_started_again_and_shown_down_meanwhile():
    stop = asyncio.Event()
    sup = Supervisor("sv-test", stop, first_backoff=0.3)
    runs: list[int] = []
    before = _restarts("relay")

    async def relay() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("cannot perform operation: another operation is in progress")
        await stop.wait()

    task = sup.start("relay", relay)
    await eventually(lambda: _true(sup.down == {"relay"}), timeout=5)
    await eventually(lambda: _true(len(runs) == 2 and not sup.down), timeout=5)
    assert _restarts("relay") == before + 1
    stop.set()
    await asyncio.wait_for(task, 2)
    assert len(runs) == 2


async def test_a_loop_that_returns_while_the_service_runs_is_started_again():
    stop = asyncio.Event()
    sup = Supervisor("sv-test", stop, first_backoff=0.05)
    runs = 0

    async def consumer() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            return
        await stop.wait()

    task = sup.start("consume-x", consumer)
    await eventually(lambda: _true(runs == 3), timeout=5)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert runs == 3 and not sup.down


async def test_stopping_ends_a_loop_waiting_to_be_started_again():
    stop = asyncio.Event()
    sup = Supervisor("sv-test", stop, first_backoff=60)

    async def broken() -> None:
        raise ValueError("always")

    task = sup.start("prune", broken)
    await eventually(lambda: _true(sup.down == {"prune"}), timeout=5)
    stop.set()
    await asyncio.wait_for(task, 2)  # not after the minute's back-off
    assert not sup.down


async def _true(value: bool) -> bool:
    return value


def _stalled_gauge(task: str) -> float:
    return BACKGROUND_STALLED.labels(service="sv-test", task=task)._value.get()


async def test_a_loop_whose_heart_stops_is_stalled_and_one_that_beats_is_not():
    stop = asyncio.Event()
    sup = Supervisor("sv-test", stop, stall_after_s=0.3)
    turning, stuck = Heartbeat(), Heartbeat()
    hang = asyncio.Event()

    async def consumer() -> None:
        while not stop.is_set():
            turning.beat()
            await asyncio.sleep(0.05)

    async def relay() -> None:
        stuck.beat()
        await hang.wait()  # a statement that never answers: alive, not turning
        while not stop.is_set():
            stuck.beat()
            await asyncio.sleep(0.05)

    tasks = [sup.start("consume-x", consumer, turning), sup.start("relay", relay, stuck)]
    await eventually(lambda: _true(sup.stalled() == ["relay"]), timeout=5, message="the relay named as stalled")
    assert _stalled_gauge("relay") == 1 and _stalled_gauge("consume-x") == 0
    hang.set()
    await eventually(lambda: _true(sup.stalled() == []), timeout=5, message="the relay turning again")
    assert _stalled_gauge("relay") == 0
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 2)


async def test_readyz_names_a_relay_stuck_on_a_lock_and_clears_once_it_turns(settings_for, token, tmp_path, pool):
    """The fault runs' case, as an operator sees it: the relay's statement waits on a lock that is
    not released; its task lives on. /readyz says degraded with the relay stalled (commands still
    commit: 200), and ready again once the lock goes."""
    (tmp_path / "0001_nothing.sql").write_text("SELECT 1")
    spec = ServiceSpec(name="enrollment", title="t", routers=[], registry=EventRegistry(), migrations=tmp_path)
    app = create_app(spec, settings_for("enrollment", stall_after_s=1.0))
    async with running(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")

        async def readyz() -> dict:
            r = await client.get("/readyz")
            assert r.status_code == 200, r.text
            return r.json()

        await eventually(lambda: _true_async(readyz, lambda b: b["status"] == "ready"), timeout=20,
                         message="the service ready")
        async with pool.acquire() as blocker:
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("LOCK TABLE relay_cursor IN ACCESS EXCLUSIVE MODE")  # every relay read waits
            try:
                await eventually(lambda: _true_async(readyz, lambda b: b.get("stalled") == ["relay"]
                                                     and b["status"] == "degraded"), timeout=15,
                                 message="/readyz naming the relay stalled")
            finally:
                await tx.rollback()
        await eventually(lambda: _true_async(readyz, lambda b: b["status"] == "ready" and "stalled" not in b),
                         timeout=15, message="/readyz ready again")
        await client.aclose()


async def _true_async(get, test) -> bool:
    return test(await get())
