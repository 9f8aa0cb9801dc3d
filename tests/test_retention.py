"""JetStream retention (shared/bus.py Retention) and a live consumer catching up past it
(shared/catchup.py), against real PostgreSQL and NATS. The service-level acceptance (a stopped
consumer, an owner's HTTP feed) is tests/test_retention_catchup.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest

from shared.bus import BusNames, Retention, ensure_stream
from shared.catchup import early_limit, hole, missed
from shared.envelope import Metadata, NewEvent
from shared.eventstore import NO_STREAM
from shared.feed import store_source
from tests.conftest import eventually
from tests.kernel import SERVICE, append_streams, background, connected_bus, consumer, expected_tally, relay, store
from tests.tally import Tally, snapshot


@pytest.fixture(autouse=True)
async def empty_outbox(pool):
    await pool.execute("DELETE FROM outbox")


def test_missed_and_hole_read_stream_sequences():
    assert not missed(0, 0) and not missed(0, 5)  # a stream that never held a message
    assert not missed(1, 0) and not missed(1, 1)  # a new durable on an untouched stream
    assert missed(2, 0)  # a new durable on a stream that already discarded message 1
    assert not missed(11, 11) and missed(12, 11)  # emptied by its limits (first = last + 1) vs. past us
    assert hole(0, 5, 8, 4) == 0 and hole(5, 5, 8, 4) == 0  # one by one
    assert hole(5, 9, 12, 4) == 5  # the batch starts after the message due
    assert hole(5, 5, 9, 4) == 6  # a gap inside the batch
    assert hole(9, 5, 8, 4) == 0  # redelivered ones below what is due (after a catch-up) are no hole


async def test_the_owner_sets_its_streams_retention_and_the_limits_discard(nats_url, namespace):
    names = BusNames(namespace)
    async with connected_bus(nats_url, names) as bus:  # created without limits
        js = bus.js()
        stream = names.stream(SERVICE)
        config = (await js.stream_info(stream)).config
        assert (config.max_age, config.max_bytes, config.max_msgs) == (0, -1, -1)

        await ensure_stream(js, names, SERVICE, 120, retention=Retention(3600, 10_000_000, 5))
        config = (await js.stream_info(stream)).config
        assert (config.max_age, config.max_bytes, config.max_msgs) == (3600, 10_000_000, 5)

        # A consumer of the stream provisions it too, with its own settings: the owner's stand.
        await ensure_stream(js, names, SERVICE, 120, retention=Retention(60, 0, 0), owner=False)
        config = (await js.stream_info(stream)).config
        kept = (config.max_age, config.max_bytes, config.max_msgs, config.duplicate_window)
        assert kept == (3600, 10_000_000, 5, 120)

        # A max age shorter than the duplicate window bounds the window (JetStream requires it).
        await ensure_stream(js, names, SERVICE, 120, retention=Retention(30, 0, 5))
        config = (await js.stream_info(stream)).config
        assert (config.max_age, config.duplicate_window, config.max_bytes) == (30, 30, -1)

        for _ in range(12):
            await js.publish(names.subject(SERVICE, "project", "Counted"), b"{}")
        state = (await js.stream_info(stream)).state
        assert (state.messages, state.first_seq, state.last_seq) == (5, 8, 12)


async def whole_store(pool) -> dict:
    """The tally of every event in the module's store: what a catch-up from it applies (earlier
    tests' events included)."""
    by_stream: dict[str, list] = {}
    async for page in store_source(pool, store):
        for event in page:
            by_stream.setdefault(event.subject, []).append(event)
    return expected_tally(by_stream)


class Gated(Tally):
    """A Tally whose apply waits at a gate: the consumer stands still, mid-batch, for as long as
    the test wants."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def apply(self, conn, event) -> None:
        if not self.gate.is_set():
            self.waiting.set()
            await self.gate.wait()
        await super().apply(conn, event)


async def test_a_running_consumer_whose_unread_messages_were_discarded_catches_up(pool, db_url, nats_url, namespace):
    names = BusNames(namespace)
    projection = Gated("retention_live")
    async with connected_bus(nats_url, names) as bus:
        await ensure_stream(bus.js(), names, SERVICE, 120, retention=Retention(max_msgs=10))
        live = consumer(pool, bus, names, projection, batch_size=4,
                        feed=lambda source: store_source(pool, store, limit=7))
        async with background(relay(db_url, bus, names), live):
            first = await append_streams(pool, 1, 1)
            await asyncio.wait_for(projection.waiting.wait(), 20)  # its first batch is being applied
            more = await append_streams(pool, 5, 20)  # 100 more: the stream keeps 10 of them

            async def discarded() -> bool:
                state = (await bus.js().stream_info(names.stream(SERVICE))).state
                return state.last_seq == 101 and state.first_seq == 92

            await eventually(discarded, message="the relay to publish everything and the stream to discard")
            projection.gate.set()
            assert first and more
            expected = await whole_store(pool)

            async def complete() -> bool:
                return await snapshot(pool, projection.name) == expected

            await eventually(complete, message="every event applied, each once")
        assert live.catchups >= 1
        # Exactly once: `seen` lists each event id it applied; the checkpoints' count agrees.
        assert await snapshot(pool, projection.name) == expected
        applied = await pool.fetchval("SELECT applied FROM projection_state WHERE projection = $1", projection.name)
        assert applied == 101


class Flaky(Tally):
    """A Tally whose handler fails on events with n = FLAKY while `failing` is set."""

    FLAKY = 1000

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.failing = True

    async def apply(self, conn, event) -> None:
        if self.failing and event.data["n"] == self.FLAKY:
            raise RuntimeError("not yet")
        await super().apply(conn, event)


async def test_a_handed_back_message_the_stream_discarded_is_caught_up(pool, db_url, nats_url, namespace):
    """A failing handler's event waits for its redelivery (the back-off grows); meanwhile the stream
    discards it, and JetStream settles it without a word. The consumer notices and catches up."""
    names = BusNames(namespace)
    projection = Flaky("retention_handed_back")
    async with connected_bus(nats_url, names) as bus:
        stream = names.stream(SERVICE)
        await ensure_stream(bus.js(), names, SERVICE, 120, retention=Retention(max_msgs=10))
        live = consumer(pool, bus, names, projection, max_deliveries=50,
                        feed=lambda source: store_source(pool, store))
        async with background(relay(db_url, bus, names), live):
            flaky = await append_streams(pool, 1, 1, make=lambda i: NewEvent("Counted", {"n": Flaky.FLAKY}))
            [event] = next(iter(flaky.values()))

            async def failed_often() -> bool:  # its next delivery is 6.4 s away
                n = await pool.fetchval("SELECT failures FROM projection_failures WHERE event_id = $1", event.id)
                return (n or 0) >= 6

            await eventually(failed_often, timeout=30, message="six failures of the flaky event")
            projection.failing = False
            for _ in range(3):  # 15 more, a few at a time, each applied before the next: no new one skipped
                chunk = await append_streams(pool, 5, 1)

                async def applied(chunk=chunk) -> bool:
                    tally = await snapshot(pool, projection.name)
                    return all(stream_id in tally for stream_id in chunk)

                await eventually(applied, message="the chunk applied")
            state = (await bus.js().stream_info(stream)).state
            assert state.first_seq > 1, "the flaky event's message is discarded while it waits"
            expected = await whole_store(pool)

            async def complete() -> bool:
                return await snapshot(pool, projection.name) == expected

            await eventually(complete, timeout=20, message="the discarded event applied from the feed, once")
        assert live.catchups >= 1 and "handed-back" in (live.behind_reason or ""), live.behind_reason
        assert await pool.fetchval("SELECT count(*) FROM projection_failures WHERE event_id = $1", event.id) == 0


def test_an_early_event_counts_as_loss_only_after_twice_the_ack_wait():
    assert early_limit(30.0, 0.2) == 300  # the services' settings: a minute of hand-backs
    assert early_limit(6.0, 0.02) == 600
    assert early_limit(1.0, 0.2) == 100  # never fewer than the old backstop


async def test_a_consumer_restarted_after_a_kill_waits_for_the_messages_its_dead_self_held(
        pool, db_url, nats_url, namespace):
    """kill -9 of a consumer leaves the messages it had fetched pending until the ack wait passes;
    the restarted consumer gets their successors first and hands them back as early. That is no
    loss: the predecessor comes back after the ack wait and both apply, without a catch-up from the
    owner's feed (the fault runs saw one after every kill: the whole feed read for a few events).
    Hand-backs 20 ms apart and a 6 s ack wait: the old backstop (100 hand-backs) fired at 2–4 s."""
    names = BusNames(namespace)
    name, ack_wait, delay = "restart_after_kill", 6.0, 0.02
    stream = f"project-{uuid.uuid4()}"

    async def append(version: int, n: int) -> list:
        async with pool.acquire() as conn, conn.transaction():
            return await store.append(conn, stream, version, [NewEvent("Counted", {"n": n})], Metadata())

    async with connected_bus(nats_url, names) as bus, background(relay(db_url, bus, names)):
        doomed = Gated(name)  # holds its first event mid-apply until it is killed
        async with connected_bus(nats_url, names) as doomed_bus:
            first = consumer(pool, doomed_bus, names, doomed, ack_wait=ack_wait, early_delay=delay)
            task = asyncio.create_task(first.run(asyncio.Event()))
            v1 = await append(NO_STREAM, 1)
            await asyncio.wait_for(doomed.waiting.wait(), 20)
            assert doomed_bus.nc is not None
            await doomed_bus.nc.close()  # as kill -9: no ack and no hand-back ever leaves it
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        killed = time.monotonic()
        v2 = await append(1, 2)  # published now: it reaches the restarted consumer before v1 comes back
        restarted = Tally(name)
        live = consumer(pool, bus, names, restarted, ack_wait=ack_wait, early_delay=delay,
                        feed=lambda source: store_source(pool, store))
        async with background(live):
            expected = expected_tally({stream: v1 + v2})

            async def complete() -> bool:
                return (await snapshot(pool, name)).get(stream) == expected[stream]

            await eventually(complete, timeout=30, message="both events applied, in order, once")
        took = time.monotonic() - killed
    assert live.catchups == 0 and live.behind_reason is None, live.behind_reason
    assert took >= ack_wait * 0.8, f"v1 came back after the ack wait ({took:.1f} s), not at once"
