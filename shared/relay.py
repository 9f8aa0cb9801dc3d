"""Outbox relay: moves committed events from the event store to JetStream.

- The relay reads the store in its order up to the commit horizon (shared/eventstore.py) and
  keeps one cursor, `relay_cursor`: the (tx, position) of the last event published. The events
  after it are the outbox (`outbox` is a view of them, migration 0006).
- The cursor moves only past events whose PubAck arrived, in order, so a crash anywhere
  re-publishes, never loses.
- Re-publishes carry `Nats-Msg-Id = event id`, so JetStream drops them inside its duplicate
  window, and projections drop them anyway by stream version.
- One relay per service publishes at a time: it holds a session-level advisory lock on a
  dedicated connection. A standby replica polls for the lock and takes over when the holder's
  connection dies (PostgreSQL releases session locks when the session ends).
- While NATS is down it backs off and keeps its place; commands keep committing meanwhile.
- Poison: an event NATS refuses for what it is (over max_payload, a stream's message size limit),
  not for where NATS is, fails the same way every time and would block every event behind it.
  After `poison_attempts` such refusals in a row it is parked in `relay_parked` with the reason,
  the cursor moves past it and tt_relay_parked rises. Timeouts and lost connections never park.

How the leader learns of new events (appends send no NOTIFY: shared/eventstore.py says why):
1. a transaction of this process that appended events of the relay's source commits: the
   store calls `wake` right after the COMMIT (EventStore.on_commit);
2. a commit in another replica: its relay, standing by, is woken the same way and passes it on
   with `pg_notify('outbox')` from its own connection, one at a time, however many commits woke
   it meanwhile; the leader LISTENs. Those NOTIFYs are tiny transactions of the standbys alone,
   so no command's COMMIT waits for the notification queue's lock;
3. anything else (a process without a relay, a connection not from shared/db.py, a wake lost
   with a connection): the leader looks again after `idle_poll` without one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
from opentelemetry import trace

from . import telemetry
from .bus import Bus, BusNames
from .db import connect
from .envelope import STRUCTURED_CONTENT_TYPE
from .eventstore import EventStore
from .supervise import Heartbeat

log = logging.getLogger(__name__)
RELAY_LOCK = 0x7474_7265_6C61  # "ttrela"
NOTIFY_CHANNEL = "outbox"
# A standby's turn: take the lead if the leader has gone, otherwise pass on the wake-up it got from
# a commit of its own process (CASE evaluates the NOTIFY only when the lock was not taken).
_LEAD = "SELECT pg_try_advisory_lock($1)"
_LEAD_OR_PASS_ON = "SELECT CASE WHEN pg_try_advisory_lock($1) THEN true ELSE (SELECT false FROM pg_notify($2, '')) END"

# The events after the cursor, in the store's order, as the feed reads it: those up to the commit
# horizon are `ready`; one written by a transaction at or past it — one an earlier, still open
# transaction may yet be followed by in that order — waits, and sorts after every ready one.
_PENDING = """
SELECT e.position, e.stream_id, e.version, e.event_id, e.type, e.schema_version, e.data,
       e.metadata, e.recorded_at, e.tx < pg_snapshot_xmin(pg_current_snapshot()) AS ready
FROM events e
WHERE (e.tx, e.position) > (SELECT c.tx, c.position FROM relay_cursor c)
ORDER BY e.tx, e.position LIMIT $1
"""
# Past the last event published (never back: an operator's `DELETE FROM outbox` may have moved it on).
_ADVANCE = """
UPDATE relay_cursor c SET tx = e.tx, position = e.position FROM events e
WHERE e.position = $1 AND (c.tx, c.position) < (e.tx, e.position)
"""
_PARK = """
INSERT INTO relay_parked (position, event_id, stream_id, type, size_bytes, attempts, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (position) DO NOTHING
"""


async def lead_session(conn: asyncpg.Connection) -> None:
    """The leader's connection plans once, and by index.

    - Its few statements run over and over on this one connection; left to choose, PostgreSQL
      planned _PENDING anew on every call (150–240 µs of planning, more than the read itself) for
      the plan the generic one is: an index scan on (tx, position).
    - A generic plan made while the events table was analysed empty (a new province's first
      minutes, a restored database after `vacuumdb --analyze`) was a sequential scan and a sort of
      the whole store on every poll, kept until autovacuum analyses the table again: during a
      go-live import, each poll read and sorted every event written so far (a 500-event poll at
      100,000 events: 32 ms against 5.9 by the index, a scratch measurement). Every statement here
      reads by key or by (tx, position), so sequential scans are off for the session (as for
      commands, migration 0016).
    """
    await conn.execute("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")


# Rows wait behind the horizon only while some transaction is open: look again soon, not after
# `idle_poll` (no NOTIFY comes when an unrelated transaction ends).
HELD_BACK_POLL_S = 0.02


class OutboxRelay:
    def __init__(
        self, dsn: str, store: EventStore, bus: Bus, names: BusNames, service: str,
        batch_size: int = 500, publish_timeout: float = 5.0, idle_poll: float = 1.0, poison_attempts: int = 3,
    ) -> None:
        self.dsn = dsn
        self.store = store
        self.bus = bus
        self.names = names
        self.service = service
        self.batch_size = batch_size
        self.publish_timeout = publish_timeout
        self.idle_poll = idle_poll
        self.is_leader = False
        self.published = 0
        self._depth_reported = 0.0
        self._wake = asyncio.Event()
        self._held_back = False  # the last batch left rows waiting behind the commit horizon
        self.poison_attempts = poison_attempts
        self._refusals: dict[int, tuple[int, str]] = {}  # position → (refusals in a row, last reason)
        self.parked = 0
        self._tracer = trace.get_tracer(__name__)
        self.heartbeat = Heartbeat()  # every turn of its loops, leading or standing by (shared/supervise.py)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        unregister = self.store.on_commit(self.wake)  # commits of this process that appended
        try:
            backoff = 0.2
            while not stop.is_set():
                self.heartbeat.beat()
                try:
                    await self._lead(stop)
                    backoff = 0.2
                # InternalClientError: a connection still consuming the server's FATAL during a
                # shutdown (docs/reliability.md); uncaught, it ended the relay for good.
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError,
                        asyncpg.exceptions.InternalClientError) as exc:
                    log.warning("relay lost its database connection: %s", exc)
                self.is_leader = False
                await _sleep_unless(stop, backoff)
                backoff = min(backoff * 2, 5.0)
        finally:
            unregister()

    async def _lead(self, stop: asyncio.Event) -> None:
        conn = await connect(self.dsn)
        try:
            await lead_session(conn)
            while not stop.is_set():
                self.heartbeat.beat()
                # Wake-ups that came while connecting or waiting are passed on; clear before the
                # NOTIFY, so that a commit after this point wakes us again.
                woken = self._wake.is_set()
                self._wake.clear()
                if await (conn.fetchval(_LEAD_OR_PASS_ON, RELAY_LOCK, NOTIFY_CHANNEL) if woken
                          else conn.fetchval(_LEAD, RELAY_LOCK)):
                    break
                # Standby: another replica leads. Wait for a commit of this process to pass on.
                await _wait_any(stop, self._wake, self.idle_poll)
            else:
                return
            self.is_leader = True
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
            await self._drain_loop(conn, stop)
        finally:
            await conn.close(timeout=2)

    async def _drain_loop(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        nats_backoff = 0.2
        while not stop.is_set():
            self.heartbeat.beat()
            self._wake.clear()
            await self._report_depth(conn)
            if not self.bus.connected:
                # Not woken by new rows: during an outage they only add to the backlog.
                await _wait_any(stop, None, nats_backoff)
                nats_backoff = min(nats_backoff * 2, 5.0)
                continue
            sent, complete = await self.publish_batch(conn)
            held_back = self._held_back
            if not complete:
                # NATS refused or timed out: keep the rows, back off, try again.
                await _wait_any(stop, None, nats_backoff)
                nats_backoff = min(nats_backoff * 2, 5.0)
                continue
            nats_backoff = 0.2
            if held_back:
                await _wait_any(stop, self._wake, HELD_BACK_POLL_S)
            elif sent < self.batch_size:
                await _wait_any(stop, self._wake, self.idle_poll)

    async def publish_batch(self, conn: asyncpg.Connection) -> tuple[int, bool]:
        """Publish one batch; returns (rows removed from the outbox, whether all were acked)."""
        fetched = await conn.fetch(_PENDING, self.batch_size)
        rows = [r for r in fetched if r["ready"]]
        self._held_back = len(rows) < len(fetched)
        if not rows:
            return 0, True
        js = self.bus.js()
        futures = []
        sizes: list[int] = []
        refused: str | None = None  # why NATS refused the row after the last future, if it did
        try:
            for row in rows:
                env = self.store._envelope(row)
                subject = self.names.subject(self.service, env.category, env.type)
                # CloudEvents' NATS binding, structured mode: the envelope is the body, labelled.
                headers = {"Nats-Msg-Id": str(env.id), "Content-Type": STRUCTURED_CONTENT_TYPE}
                if telemetry.exporting():
                    parent = telemetry.context_from_traceparent(env.traceparent)
                    with self._tracer.start_as_current_span(
                        f"publish {env.type}", context=parent, kind=trace.SpanKind.PRODUCER
                    ):
                        telemetry.inject_headers(headers)
                elif env.traceparent:  # no span to show anyone: consumers continue the command's
                    headers["traceparent"] = env.traceparent
                body = env.to_json()
                sizes.append(len(body))
                try:
                    futures.append(await js.publish_async(subject, body, headers=headers))
                except nats.errors.MaxPayloadError as exc:  # refused before sending: the row's own fault
                    refused = f"{type(exc).__name__}: {len(body)} bytes over the server's max_payload"
                    break
        except Exception as exc:  # connection dropped mid-batch: whatever got acked still counts
            log.warning("relay publish interrupted: %s", exc)
        ok: list[bool] = []
        if futures:
            done, pending = await asyncio.wait(futures, timeout=self.publish_timeout)
            for fut in pending:
                fut.cancel()
            ok = [fut in done and not fut.cancelled() and fut.exception() is None for fut in futures]
        reasons = [None if good else _refusal(fut) for fut, good in zip(futures, ok, strict=True)]
        if refused is not None:
            ok.append(False)
            reasons.append(refused)
        acked: list[int] = []  # positions published (or parked), in order; the cursor moves past them only
        parked: list[tuple[asyncpg.Record, int, int, str]] = []
        for row, published, reason, size in zip(rows, ok, reasons, sizes, strict=False):
            if not published:
                attempts = self._refused(row["position"], reason)
                if reason is None or attempts < self.poison_attempts:
                    break  # it and what follows go again, in order
                parked.append((row, size, attempts, reason))
            acked.append(row["position"])
        if acked:
            async with conn.transaction():
                for row, size, attempts, reason in parked:
                    await conn.execute(_PARK, row["position"], row["event_id"], row["stream_id"], row["type"], size,
                                       attempts, reason[:2000])
                await self._remove(conn, acked)
            for row, size, attempts, reason in parked:
                self._refusals.pop(row["position"], None)
                log.error("relay parked event %s (%s, %s bytes) after %s refusals: %s",
                          row["event_id"], row["type"], size, attempts, reason)
            self.parked += len(parked)
            self.published += len(acked) - len(parked)
            telemetry.RELAY_PUBLISHED.labels(service=self.service).inc(len(acked) - len(parked))
            if parked:
                telemetry.RELAY_PARKED.labels(service=self.service).inc(len(parked))
        failed = len(rows) - sum(ok)  # refused, timed out, or never sent
        if failed:
            telemetry.RELAY_PUBLISH_ERRORS.labels(service=self.service).inc(failed)
        return len(acked), len(acked) == len(rows)

    def _refused(self, position: int, reason: str | None) -> int:
        """Count a refusal of the event at `position` for what it is; a timeout or a lost
        connection (reason None) starts the count again, as it says nothing about the event."""
        if reason is None:
            self._refusals.pop(position, None)
            return 0
        count = self._refusals.get(position, (0, ""))[0] + 1
        if len(self._refusals) > 1000:  # only the head of the outbox is ever refused in a row
            self._refusals.clear()
        self._refusals[position] = (count, reason)
        return count

    async def _remove(self, conn: asyncpg.Connection, positions: list[int]) -> None:
        """The published events (a prefix of the batch, in order) leave the outbox: the cursor
        moves past the last of them."""
        await conn.execute(_ADVANCE, positions[-1])

    async def _report_depth(self, conn: asyncpg.Connection) -> None:
        # Under load the relay wakes once per commit: sample the depth at most once a second.
        now = time.monotonic()
        if now - self._depth_reported < 1.0:
            return
        self._depth_reported = now
        row = await conn.fetchrow("SELECT n, oldest FROM tt_outbox_backlog()")  # by index (migration 0015)
        telemetry.OUTBOX_DEPTH.labels(service=self.service).set(row["n"])
        age = 0.0 if row["oldest"] is None else max(0.0, time.time() - row["oldest"].timestamp())
        telemetry.OUTBOX_OLDEST_AGE.labels(service=self.service).set(age)


def _refusal(fut: asyncio.Future[Any]) -> str | None:
    """Why JetStream refused a message for what it is (a 400: over the stream's size limit, …), or
    None for anything that is about NATS rather than the message (timeouts, 503s, no stream)."""
    if fut.cancelled() or not fut.done():
        return None
    exc = fut.exception()
    if isinstance(exc, nats.js.errors.APIError) and exc.code == 400:
        return f"{type(exc).__name__}: {exc.description} (err_code {exc.err_code})"
    return None


async def outbox_depth(conn: asyncpg.Connection) -> int:
    depth: int = await conn.fetchval("SELECT n FROM tt_outbox_backlog()")
    return depth


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
