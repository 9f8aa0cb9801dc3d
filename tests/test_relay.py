"""Outbox relay against real PostgreSQL and NATS: crash between PubAck and delete, NATS
outage under load, a single leader among replicas."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from shared.bus import BusNames
from shared.db import connect, drop_database, ensure_database, with_database
from shared.envelope import Metadata, NewEvent
from shared.relay import _PENDING, OutboxRelay, lead_session, outbox_depth
from tests.conftest import eventually
from tests.kernel import (
    append_streams,
    apply_kernel_migrations,
    background,
    connected_bus,
    consumer,
    expected_tally,
    relay,
)
from tests.tally import Tally, applied_count, snapshot


@pytest.fixture(autouse=True)
async def empty_outbox(pool):
    await pool.execute("DELETE FROM outbox")


class Crash(Exception):
    pass


class CrashAfterPublish(OutboxRelay):
    """Dies like a killed process: after the PubAcks arrived, before the rows are deleted."""

    async def _remove(self, conn, positions):
        raise Crash(f"killed holding {len(positions)} acked rows")


async def test_relay_killed_after_publish_before_delete_republishes_once_in_effect(pool, db_url, nats_url, namespace):
    names = BusNames(namespace)
    by_stream = await append_streams(pool, streams=5, per_stream=4)
    async with connected_bus(nats_url, names) as bus:
        doomed = relay(db_url, bus, names, cls=CrashAfterPublish)
        with pytest.raises(Crash):
            async with background(doomed):
                await eventually(lambda: _stream_messages(bus, names, 20), message="first publish")
        assert await _depth(pool) == 20  # nothing was deleted
        projection = Tally(f"p_{namespace}")
        async with background(relay(db_url, bus, names), consumer(pool, bus, names, projection)):
            await eventually(lambda: _depth_is(pool, 0), message="outbox drained by the new relay")
            await eventually(lambda: _applied(pool, projection.name, 20), message="projection caught up")
        info = await bus.js().stream_info(names.stream("enrollment"))
        assert info.state.messages == 20, "JetStream must drop the re-published copies (Nats-Msg-Id)"
        assert await snapshot(pool, projection.name) == expected_tally(by_stream)


async def test_nats_down_while_500_events_are_appended_then_all_arrive_once(
        pool, db_url, namespace, nats_proxy):
    names = BusNames(namespace)
    projection = Tally(f"p_{namespace}")
    async with connected_bus(nats_proxy.url, names) as bus:
        live_relay = relay(db_url, bus, names)
        async with background(live_relay, consumer(pool, bus, names, projection)):
            nats_proxy.cut()
            await eventually(lambda: _disconnected(bus), message="client notices the outage")
            by_stream = await append_streams(pool, streams=50, per_stream=10)
            assert await _depth(pool) == 500, "commands commit while NATS is down; rows wait in the outbox"
            assert await applied_count(pool, projection.name) == 0
            nats_proxy.restore()
            await eventually(lambda: _applied(pool, projection.name, 500), timeout=60,
                             message="all 500 events projected")
            await eventually(lambda: _depth_is(pool, 0), message="outbox drained")
    assert await snapshot(pool, projection.name) == expected_tally(by_stream)


async def test_only_one_relay_publishes_at_a_time(pool, db_url, nats_url, namespace):
    names = BusNames(namespace)
    async with connected_bus(nats_url, names) as bus:
        a, b = relay(db_url, bus, names), relay(db_url, bus, names)
        async with background(a, b):
            await eventually(_async(lambda: a.is_leader or b.is_leader), message="a leader")
            await append_streams(pool, streams=10, per_stream=3)
            await eventually(lambda: _depth_is(pool, 0), message="drained")
            assert a.is_leader != b.is_leader
            assert {a.published, b.published} == {0, 30}
            survivor = b if a.is_leader else a
        # The leader goes away; the standby takes over and publishes what comes next.
        async with background(survivor):
            await eventually(_async(lambda: survivor.is_leader), message="standby takes the lock")
            await append_streams(pool, streams=2, per_stream=1)
            await eventually(lambda: _depth_is(pool, 0), message="drained by the standby")
        assert survivor.published == 2


def _async(fn):
    async def check():
        return fn()
    return check


async def _depth(pool) -> int:
    async with pool.acquire() as conn:
        return await outbox_depth(conn)


async def _depth_is(pool, n: int) -> bool:
    return await _depth(pool) == n


async def _applied(pool, name: str, n: int) -> bool:
    return await applied_count(pool, name) >= n


async def _disconnected(bus) -> bool:
    return not bus.connected


async def _stream_messages(bus, names, n: int) -> bool:
    info = await bus.js().stream_info(names.stream("enrollment"))
    return info.state.messages >= n


async def test_relay_delivers_a_late_commit_once_it_commits_and_nothing_twice(pool, db_url, nats_url, namespace):
    """T1 takes the earlier position and stays open while later appends are attempted; the
    relay runs throughout. After T1 commits, JetStream holds every event exactly once."""
    from shared.envelope import Metadata
    from shared.eventstore import NO_STREAM
    from tests.kernel import store
    from tests.tally import counted

    names = BusNames(namespace)
    async with connected_bus(nats_url, names) as bus:
        async with background(relay(db_url, bus, names)):
            held = await pool.acquire()
            tx = held.transaction()
            await tx.start()
            early = await store.append(held, "project-held", NO_STREAM, [counted(1)], Metadata())
            later = asyncio.gather(*(append_streams(pool, streams=1, per_stream=1) for _ in range(5)))
            await asyncio.sleep(0.3)  # the later appends and the relay get every chance to run ahead
            assert await _stream_count(bus, names) == 0, "nothing may be published ahead of T1's position"
            await tx.commit()
            await pool.release(held)
            published = [e for batch in await later for evs in batch.values() for e in evs] + early
            await eventually(lambda: _stream_messages(bus, names, 6), message="all six published")
            await eventually(lambda: _depth_is(pool, 0), message="outbox drained")
        ids = await _published_ids(bus, names)
    assert sorted(ids) == sorted(str(e.id) for e in published), "each event exactly once"


async def test_nats_server_stopped_and_restarted_while_commands_arrive(pool, db_url, namespace, tmp_path):
    """A real NATS process of our own (file storage) is stopped while 200 events are appended
    and started again on the same port and store: every event reaches the projection once."""
    from shared.devstack import free_port, start_nats

    names = BusNames(namespace)
    port = free_port()
    server = start_nats(tmp_path, port)
    projection = Tally(f"p_{namespace}")
    try:
        async with connected_bus(server.url, names) as bus:
            async with background(relay(db_url, bus, names), consumer(pool, bus, names, projection)):
                server.stop()
                await eventually(lambda: _disconnected(bus), message="client notices the stop")
                by_stream = await append_streams(pool, streams=20, per_stream=10)
                assert await _depth(pool) == 200
                server = start_nats(tmp_path, port)
                await eventually(lambda: _applied(pool, projection.name, 200), timeout=60,
                                 message="all 200 events projected after the restart")
                await eventually(lambda: _depth_is(pool, 0), message="outbox drained")
        assert await snapshot(pool, projection.name) == expected_tally(by_stream)
    finally:
        server.stop()


async def _stream_count(bus, names) -> int:
    return (await bus.js().stream_info(names.stream("enrollment"))).state.messages


async def _published_ids(bus, names) -> list[str]:
    from shared.consumer import stream_source

    return [str(e.id) for batch in [b async for b in stream_source(bus, names, "enrollment")] for e in batch]


async def test_a_commit_in_this_process_wakes_the_relay_without_notify_or_poll(pool, db_url, nats_url, namespace):
    """Appends send no NOTIFY (shared/eventstore.py): the relay of the appending process is woken
    right after COMMIT. Its poll is set to a minute, so only that wake-up can publish in time."""
    names = BusNames(namespace)
    async with connected_bus(nats_url, names) as bus:
        sleepy = relay(db_url, bus, names, idle_poll=60.0)
        async with background(sleepy):
            await eventually(_async(lambda: sleepy.is_leader), message="a leader")
            await eventually(lambda: _depth_is(pool, 0), message="whatever earlier tests left, published")
            for round_ in range(3):  # each time after the relay has gone back to waiting
                await append_streams(pool, streams=2, per_stream=1)
                await eventually(lambda: _depth_is(pool, 0), timeout=5, message=f"round {round_} published")


async def test_a_standby_passes_its_process_commits_on_to_the_leader(pool, db_url, nats_url, namespace):
    """Another process's commits reach the leader through its standby relay's NOTIFY. The standby
    stands for that process: its store has another source, so the commits below wake it alone."""
    from shared.eventstore import NO_STREAM, EventStore

    names = BusNames(namespace)
    elsewhere = EventStore("elsewhere")
    async with connected_bus(nats_url, names) as bus:
        leader = relay(db_url, bus, names, idle_poll=60.0)
        standby = OutboxRelay(db_url, elsewhere, bus, names, "enrollment", idle_poll=60.0)
        async with background(leader):
            await eventually(_async(lambda: leader.is_leader), message="a leader")
            await eventually(lambda: _depth_is(pool, 0), message="whatever earlier tests left, published")
            async with background(standby):
                await asyncio.sleep(0)  # a yield, not a wait: the standby's task registers for wake-ups
                for i in range(3):
                    async with pool.acquire() as conn, conn.transaction():
                        await elsewhere.append(conn, f"project-elsewhere-{namespace}-{i}", NO_STREAM,
                                               [NewEvent("Counted", {"n": i})], Metadata())
                    await eventually(lambda: _depth_is(pool, 0), timeout=5, message=f"event {i} published")
        assert not standby.is_leader and leader.published >= 3


async def test_an_event_nats_refuses_is_parked_and_the_1000_behind_it_arrive_once_each(pool, db_url, nats_url,
                                                                                        namespace):
    """Issue 19: an event over NATS's max_payload (1 MiB by default) fails the same way on every
    attempt. The relay parks it with the reason after its bounded attempts, the 1,000 events
    appended after it arrive once each, and the alert metric counts it."""
    from shared import telemetry
    from shared.eventstore import NO_STREAM
    from tests.kernel import store

    await pool.execute("DELETE FROM relay_parked")
    names = BusNames(namespace)
    projection = Tally(f"p_{namespace}")
    parked_before = telemetry.RELAY_PARKED.labels(service="enrollment")._value.get()
    async with pool.acquire() as conn, conn.transaction():
        [huge] = await store.append(conn, f"project-huge-{namespace}", NO_STREAM,
                                    [NewEvent("Counted", {"n": 0, "blob": "x" * (1 << 20)})], Metadata())
    by_stream = await append_streams(pool, streams=100, per_stream=10)
    async with connected_bus(nats_url, names) as bus:
        live = relay(db_url, bus, names, batch_size=50)
        async with background(live, consumer(pool, bus, names, projection)):
            await eventually(lambda: _applied(pool, projection.name, 1000), timeout=60,
                             message="the 1,000 events behind the refused one projected")
            await eventually(lambda: _depth_is(pool, 0), message="outbox drained past the parked event")
        ids = await _published_ids(bus, names)
    assert await snapshot(pool, projection.name) == expected_tally(by_stream), "each of the 1,000 once"
    assert sorted(ids) == sorted(str(e.id) for evs in by_stream.values() for e in evs), "nothing twice, huge not at all"
    row = await pool.fetchrow("SELECT * FROM relay_parked")
    assert (row["event_id"], row["type"], row["attempts"]) == (huge.id, "Counted", 3)
    assert row["size_bytes"] > 1 << 20 and "MaxPayloadError" in row["reason"]
    assert telemetry.RELAY_PARKED.labels(service="enrollment")._value.get() == parked_before + 1
    assert live.parked == 1


async def test_only_a_refusal_of_the_message_itself_counts_toward_parking():
    """A 400 from JetStream (e.g. over the stream's message size, err_code 10054) is about the
    message; a timeout, a 503 or a missing stream is about NATS and must never park an event."""
    import nats.js.errors as jse

    from shared.relay import _refusal

    def failed(exc: Exception) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        fut.set_exception(exc)
        return fut

    too_big = _refusal(failed(jse.APIError(code=400, description="message size exceeds maximum allowed",
                                           err_code=10054)))
    assert too_big is not None and "10054" in too_big
    assert _refusal(failed(jse.ServiceUnavailableError(code=503, description="JetStream system temporarily "
                                                                              "unavailable"))) is None
    assert _refusal(failed(TimeoutError())) is None
    assert _refusal(asyncio.get_running_loop().create_future()) is None  # still pending: timed out


class _ConnectionBrokenOnce(OutboxRelay):
    """Its first batch fails the way asyncpg fails on a connection still consuming the server's
    FATAL during a shutdown (tests/faults, PostgreSQL stopped under load: the relay task died of
    it and the outbox never drained again)."""

    failed = False

    async def publish_batch(self, conn):
        if not self.failed:
            self.failed = True
            raise asyncpg.exceptions.InternalClientError(
                "cannot switch to state 12; another operation (2) is in progress")
        return await super().publish_batch(conn)


async def test_the_relay_survives_asyncpgs_internal_client_error_on_a_dying_connection(
        pool, db_url, nats_url, namespace):
    names = BusNames(namespace)
    async with connected_bus(nats_url, names) as bus:
        broken = relay(db_url, bus, names, cls=_ConnectionBrokenOnce)
        async with background(broken):
            await append_streams(pool, streams=2, per_stream=2)
            await eventually(lambda: _depth_is(pool, 0), timeout=15, message="published after the failure")
        assert broken.failed


async def test_batch_after_batch_the_relay_holds_one_ack_subscription(pool, db_url, nats_url, namespace):
    """Each batch's PubAcks arrive on an inbox subscription. The relay must reuse one: a new
    JetStream context per batch left one subscription more behind on every batch (each with its
    task and queue, on the server too), and under load the heap grew until the full collections
    stalled the event loop (shared/bus.py `Bus.js`)."""
    names = BusNames(namespace)
    async with connected_bus(nats_url, names) as bus:
        live = relay(db_url, bus, names)
        async with background(live):
            await eventually(lambda: _depth_is(pool, 0), message="whatever earlier tests left, published")
            await append_streams(pool, streams=1, per_stream=1)
            await eventually(lambda: _depth_is(pool, 0), timeout=5, message="the first batch published")
            # nats-py keeps no public count of a client's subscriptions; its own table is it.
            subscriptions = len(bus.nc._subs)
            published = live.published
            for round_ in range(5):  # one batch each: the relay waits for nothing between them
                await append_streams(pool, streams=1, per_stream=1)
                await eventually(lambda: _depth_is(pool, 0), timeout=5, message=f"round {round_} published")
            assert live.published >= published + 5
            assert len(bus.nc._subs) == subscriptions


async def test_the_backlog_is_counted_by_index_whatever_the_statistics_say(pg_server_url):
    """The relay samples the backlog once a second (its gauges; `ttadmin outbox` too). Through the
    `outbox` view the planner cannot see the cursor, guesses a third of the store and, with no
    statistics yet, scanned the events table whole: 4 ms a sample at 100,000 events, growing with
    the store. tt_outbox_backlog (migration 0015) leaves it the (tx, position) index."""
    url = with_database(pg_server_url, f"backlog_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    conn = await connect(url)
    try:
        await apply_kernel_migrations(conn, "0015_outbox_backlog.sql")
        await conn.execute("INSERT INTO events (stream_id, version, event_id, type, data) SELECT 's-' || g, 1,"
                           " gen_random_uuid(), 'Counted', '{}' FROM generate_series(1, 20000) g")
        # Published up to the last 7: the cursor sits on the 8th from the end (never analyzed).
        await conn.execute("UPDATE relay_cursor c SET tx = e.tx, position = e.position FROM (SELECT tx, position"
                           " FROM events ORDER BY tx DESC, position DESC OFFSET 7 LIMIT 1) e")
    finally:
        await conn.close()
    # A session of its own: a backend's scan counters include its earlier, unflushed transactions.
    sampler = await connect(url)
    try:
        async with sampler.transaction():
            depth = await outbox_depth(sampler)
            scans = await sampler.fetchrow("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables"
                                           " WHERE relname = 'events'")
    finally:
        await sampler.close()
        await drop_database(url)
    assert depth == 7
    assert scans["seq_scan"] == 0 and scans["idx_scan"] >= 1


async def test_the_leaders_read_stays_on_the_index_after_the_store_was_analysed_empty(pg_server_url):
    """The leader's read runs on a generic plan that its connection keeps until the events table is
    analysed again (shared/relay.py lead_session). Made while the table was analysed empty, that
    plan was a sequential scan and a sort of the whole store on every poll as the store filled."""
    url = with_database(pg_server_url, f"leadplan_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    conn = await connect(url)
    scans = "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'events'"
    try:
        await apply_kernel_migrations(conn, "0016_command_index_plans.sql")
        await conn.execute("ANALYZE events")
        await lead_session(conn)
        assert await conn.fetch(_PENDING, 100) == []  # the plan is made here, on the empty store
        await conn.execute("INSERT INTO events (stream_id, version, event_id, type, data) SELECT 's-' || g, 1,"
                           " gen_random_uuid(), 'Counted', '{}' FROM generate_series(1, 5000) g")
        async with conn.transaction():
            before = await conn.fetchrow(scans)
            assert len(await conn.fetch(_PENDING, 100)) == 100
            after = await conn.fetchrow(scans)
    finally:
        await conn.close()
        await drop_database(url)
    assert (after["seq_scan"] - before["seq_scan"], after["idx_scan"] - before["idx_scan"] >= 1) == (0, True)
