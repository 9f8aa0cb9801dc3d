"""The background loops' supervisor (shared/supervise.py): a loop that dies of what it did not
expect is started again, counted and shown, and stopping the service ends it."""

from __future__ import annotations

import asyncio

from shared.supervise import Supervisor
from shared.telemetry import BACKGROUND_RESTARTS
from tests.conftest import eventually


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
