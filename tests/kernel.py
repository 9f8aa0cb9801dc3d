"""Wiring for kernel tests: a bus, a relay and projection consumers on a test namespace."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg

from shared.bus import Bus, BusNames, ensure_stream
from shared.consumer import ProjectionConsumer
from shared.db import migration_files
from shared.envelope import Metadata, NewEvent
from shared.eventstore import NO_STREAM, EventStore
from shared.projection import Projection
from shared.relay import OutboxRelay

SERVICE = "enrollment"
# The kernel's own bookkeeping in every service database: the event store, the relay's cursor and
# parked events, idempotency records, checkpoints and dead letters. No projection rebuilds these.
KERNEL_TABLES = frozenset({"events", "outbox", "relay_cursor", "relay_parked", "idempotency_keys", "rate_buckets",
                           "projection_checkpoints", "stream_checkpoints", "projection_ids", "projection_state",
                           "projection_failures", "dead_letters", "schema_migrations"})
store = EventStore(SERVICE)


@contextlib.asynccontextmanager
async def connected_bus(url: str, names: BusNames) -> AsyncIterator[Bus]:
    bus = Bus(url, "test")
    bus.start()
    assert await bus.wait_connected(10), "NATS did not connect"
    await ensure_stream(bus.js(), names, SERVICE, duplicate_window_s=120)
    try:
        yield bus
    finally:
        await bus.close()


@contextlib.asynccontextmanager
async def background(*runners) -> AsyncIterator[asyncio.Event]:
    """Run `runner.run(stop)` tasks for the duration of the block."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in runners]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait(tasks, timeout=10)
        for t in tasks:
            t.cancel()
        for t in tasks:
            if t.done() and not t.cancelled() and t.exception():
                raise t.exception()


def relay(db_url: str, bus: Bus, names: BusNames, cls=OutboxRelay, **kw) -> OutboxRelay:
    kw.setdefault("idle_poll", 0.2)
    return cls(db_url, store, bus, names, SERVICE, **kw)


def consumer(pool: asyncpg.Pool, bus: Bus, names: BusNames, projection: Projection, **kw) -> ProjectionConsumer:
    kw.setdefault("ack_wait", 5.0)
    return ProjectionConsumer(pool, bus, names, projection, SERVICE, SERVICE, **kw)


async def append_streams(pool: asyncpg.Pool, streams: int, per_stream: int,
                         make=lambda i: NewEvent("Counted", {"n": i})) -> dict[str, list]:
    """Append `per_stream` events to each of `streams` new streams, one transaction each,
    several streams at once. Returns the envelopes by stream."""
    out: dict[str, list] = {}

    async def one(stream: str) -> None:
        version = NO_STREAM
        for i in range(per_stream):
            async with pool.acquire() as conn, conn.transaction():
                envs = await store.append(conn, stream, version, [make(i)], Metadata())
            version += 1
            out.setdefault(stream, []).extend(envs)

    await asyncio.gather(*(one(f"project-{uuid.uuid4()}") for _ in range(streams)))
    return out


def expected_tally(by_stream: dict[str, list]) -> dict[str, tuple[int, int, list]]:
    return {s: (len(evs), sum(e.data["n"] for e in evs), sorted(str(e.id) for e in evs))
            for s, evs in by_stream.items()}


async def apply_kernel_migrations(conn: asyncpg.Connection, last: str, first: str | None = None) -> None:
    """The kernel's migrations from `first` (the first of all when None) through `last`, as an
    older release left a database: the upgrade tests start there and apply the migration under test."""
    started = first is None
    for name, path in migration_files():
        started = started or name.endswith(first or "")
        if started:
            await conn.execute(path.read_text(encoding="utf-8"))
        if name.endswith(last):
            return
    raise ValueError(f"no kernel migration {last}")
