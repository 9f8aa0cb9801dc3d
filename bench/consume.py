"""Projection apply against raw JetStream consume + ack of the same messages (bench/credits.py and
bench/projections.py): one measurement, two projections."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from shared.bus import Bus, BusNames, ensure_stream
from shared.consumer import ProjectionConsumer
from shared.envelope import Envelope


class Meter(Protocol):
    """Told when the projection's run starts and ends (bench/credits_split.py measures CPU between)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def raw_then_projection(nats_url: str, names: BusNames, pool, events: list[Envelope], projection,
                              service: str, done: Callable[[ProjectionConsumer], Awaitable[bool]],
                              meter: Meter | None = None) -> tuple[float, float]:
    """Publish `events` to a fresh enrollment stream; time a bare durable pull consumer (fetch 256,
    ack each) over all of them, then the kernel's ProjectionConsumer with `projection` on its own
    durable until `done(consumer)` (`meter` started and stopped around it). Returns (raw msgs/s,
    projection events/s)."""
    bus = Bus(nats_url, "bench")
    bus.start()
    await bus.wait_connected(10)
    js = bus.js()
    n = len(events)
    try:
        await ensure_stream(js, names, "enrollment")
        for i in range(0, n, 1000):
            await asyncio.gather(*(js.publish(names.subject("enrollment", e.category, e.type), e.to_json(),
                                              headers={"Nats-Msg-Id": str(e.id)}) for e in events[i:i + 1000]))
        # As the services do after start-up (shared/service.py): what exists now (modules, the
        # published events) is moved out of the collector's sight, so neither side below pays for
        # full collections walking the harness's heap. Both are timed after it.
        gc.collect()
        gc.freeze()
        sub = await js.pull_subscribe(names.subjects("enrollment"), durable="raw", stream=names.stream("enrollment"))
        started, seen = time.perf_counter(), 0
        while seen < n:
            for m in await sub.fetch(256, timeout=5):
                await m.ack()
                seen += 1
        raw = n / (time.perf_counter() - started)
        consumer = ProjectionConsumer(pool, bus, names, projection, "enrollment", service, batch_size=256)
        stop = asyncio.Event()
        if meter is not None:
            await meter.start()
        started = time.perf_counter()
        task = asyncio.create_task(consumer.run(stop))
        while not await done(consumer):  # poll: the consumer has no completion signal
            if task.done():
                task.result()
                raise RuntimeError(f"the {service} consumer stopped")
            await asyncio.sleep(0.01)
        ours = n / (time.perf_counter() - started)
        if meter is not None:
            await meter.stop()
        stop.set()
        await asyncio.wait_for(task, 10)
        await js.delete_stream(names.stream("enrollment"))
        return raw, ours
    finally:
        gc.unfreeze()
        await bus.close()
