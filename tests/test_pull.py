"""The kernel's own JetStream pull (shared/pull.py) against a real NATS: batches in stream order,
nothing lost between fetches, an empty stream answered within the timeout, refusals raised."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from shared.bus import BusNames
from shared.pull import Puller, PullError
from tests.kernel import SERVICE, connected_bus


async def _durable(bus, names: BusNames, name: str) -> None:
    await bus.js().pull_subscribe(names.subjects(SERVICE), durable=name, stream=names.stream(SERVICE),
                                  config=ConsumerConfig(durable_name=name, ack_policy=AckPolicy.EXPLICIT,
                                                        ack_wait=30, max_ack_pending=1000))


async def _publish(bus, names: BusNames, n: int, start: int = 0) -> None:
    js = bus.js()
    for i in range(start, start + n):
        await js.publish(names.subject(SERVICE, "project", "Counted"), str(i).encode())


async def test_batches_come_in_stream_order_and_each_message_once(nats_url, namespace):
    names = BusNames(namespace)
    async with connected_bus(nats_url, names) as bus:
        await _publish(bus, names, 70)
        await _durable(bus, names, "pull-order")
        puller = await Puller(bus.nc, names.stream(SERVICE), "pull-order").start()
        try:
            seen: list[int] = []
            while len(seen) < 70:
                started = time.monotonic()
                msgs = await puller.fetch(32, timeout=5.0)
                assert msgs and len(msgs) <= 32
                # The last, short batch too comes at once: the stream says it has no more.
                assert time.monotonic() - started < 2.0
                seen += [int(m.data) for m in msgs]
                for m in msgs:
                    await m.ack()
                    assert m.metadata.num_delivered == 1
            assert seen == list(range(70))
            started = time.monotonic()
            assert await puller.fetch(32, timeout=0.5) == []  # nothing left: empty, in about the timeout
            assert time.monotonic() - started < 2.0
        finally:
            assert await puller.stop() == []


async def test_a_message_arriving_during_a_wait_ends_it_and_later_ones_are_kept(nats_url, namespace):
    names = BusNames(namespace)
    async with connected_bus(nats_url, names) as bus:
        await _durable(bus, names, "pull-wait")
        puller = await Puller(bus.nc, names.stream(SERVICE), "pull-wait").start()
        try:
            waiting = asyncio.ensure_future(puller.fetch(10, timeout=5.0))
            await asyncio.sleep(0.2)  # the fetch is waiting on an empty stream (nothing to poll)
            started = time.monotonic()
            await _publish(bus, names, 1)
            first = await waiting
            assert [int(m.data) for m in first] == [0]
            assert time.monotonic() - started < 2.0, "the first message ends the wait"
            await _publish(bus, names, 3, start=1)
            rest: list[int] = []
            deadline = time.monotonic() + 5
            while len(rest) < 3 and time.monotonic() < deadline:
                rest += [int(m.data) for m in await puller.fetch(10, timeout=1.0)]
            assert rest == [1, 2, 3]
        finally:
            await puller.stop()


async def test_a_refused_pull_is_raised(nats_url, namespace):
    names = BusNames(namespace)
    async with connected_bus(nats_url, names) as bus:
        await _durable(bus, names, "pull-refused")
        # A pull on a consumer that does not exist is answered with a status (503, no responders).
        puller = await Puller(bus.nc, names.stream(SERVICE), "no-such-durable").start()
        try:
            with pytest.raises(PullError):
                await puller.fetch(5, timeout=2.0)
        finally:
            await puller.stop()
