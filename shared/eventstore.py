"""Event store on PostgreSQL.

Reading without skipping a late commit: the commit horizon
-----------------------------------------------------------
`position` comes from an identity sequence, handed out when a row is inserted, not when its
transaction commits: T1 can draw position 10, T2 draw 11 and commit first. A reader tailing
"everything after position 9" would see 11, move its cursor there, and never see 10 when T1
commits — an event lost for the feed, a rebuild, anything reading the store in order.

So readers do not order by position alone. Every event records `tx`, the id of the transaction
that wrote it (xid8: 64 bits, never wraps), and the store's order is (tx, position). A reader
takes only rows with `tx < pg_snapshot_xmin(pg_current_snapshot())`: the oldest transaction still
running on the server when its statement began. Every transaction with a smaller id has ended, so
each of its rows that will ever be visible is visible now; a row not yet visible belongs to a
transaction whose id is at least that horizon, so it sorts after every row returned. A cursor —
the (tx, position) of the last row read — is therefore never overtaken by a late commit: the
row waits behind the horizon, then comes after the cursor. tests/test_eventstore.py holds a
transaction open while later ones commit to prove it.

Within a stream, (tx, position) order is version order as long as a transaction reads the stream
version it appends at no later than its first write: a transaction appending version v + 1 then
began writing after version v committed, so it got the younger id. The unit of work does so
(facts, then decisions, then every write at the end, shared/unit_of_work.py); reactions recorded
by projections append new streams, or streams only that projection appends to under its lock.

Appends no longer wait for each other: there is no lock to hold until COMMIT. What it costs is
latency, not loss: a transaction that stays open holds the horizon back for every reader of every
database on the server until it ends.

Optimistic concurrency per stream: the insert only happens if the stream is at the expected
version (checked in the same statement), and UNIQUE (stream_id, version) backs it up.

Waking the relay: after COMMIT, in this process, not by NOTIFY
----------------------------------------------------------------
An append used to queue `pg_notify('outbox', '')`. A transaction that has notified takes, at
COMMIT, one lock for the whole server (PostgreSQL's notification queue, async.c:PreCommit_Notify)
and holds it until its commit record is flushed: every notifying commit of every database waited
for the one before it, fsync included, and none could share a WAL flush. With eight writers,
sessions spent 30-45 % of their time waiting on it (pg_stat_activity: Lock/object).

Now a transaction that appended wakes the relays of its source in this process once it has
committed (`on_commit`; shared/db.py:Connection sees the COMMIT of the connection it ran on). The
relay runs in the service process, so the replica that leads publishes its own commits at once. A
replica whose relay stands by passes the wake on with a NOTIFY of its own, from the relay's
connection and outside any command's transaction (shared/relay.py), and every relay also polls:
a commit on a connection of another kind, or in a process without a relay, waits at most
`idle_poll`.

A store restored into another server: transaction ids from elsewhere
--------------------------------------------------------------------
`tx` is meaningful only on the server that assigned it. A logical backup (pg_dump) restored into
a fresh instance brings ids that instance has not reached yet: every restored row would stay
"not yet committed" behind the horizon (the feed, a rebuild and the relay would not see it), and
new appends, with the new server's smaller ids, would sort before them. `adopt_restored_events`
(run by shared.db.migrate, so at every start) detects that — a visible row whose `tx` is at or
beyond the server's next id cannot have been written here — and renumbers: every restored row
gets tx 0, which orders them by position (version order within a stream: a stream's next version
is inserted after its previous one committed), before anything the new server appends; the
relay's cursor moves to just before the first event it had not published, so nothing unpublished
is skipped (a few published ones may go again; JetStream's duplicate window and the projections'
checkpoints drop them, as in migration 0006). A physical backup or pg_upgrade keeps the server's
ids and never triggers it.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import asyncpg
import orjson

from . import combine
from .envelope import Envelope, EventRegistry, Metadata, NewEvent

ANY_VERSION = -1  # append regardless of the stream's version
NO_STREAM = 0  # the stream must not exist yet

# An append is one statement, prepared once per connection (asyncpg caches it): the events go in
# only if the stream is at the expected version, checked in the same statement, answering one row
# per event, or one row of NULLs with the stream's current version when the expectation failed.
# No NOTIFY: the relay is woken after COMMIT (module docstring). (Migrations 0005/0006 kept this
# as PL/pgSQL functions; a plain statement costs PostgreSQL and the client less, bench/peer.py.)
_APPEND_WITH = """
WITH tt_cur AS (SELECT coalesce(max(version), 0) AS v FROM events WHERE stream_id = $1),
tt_ok AS (SELECT v FROM tt_cur WHERE $2::int < 0 OR v = $2::int),
tt_ins AS (
    INSERT INTO events (stream_id, version, event_id, type, schema_version, data, metadata)
    SELECT $1, tt_ok.v + n.ord, n.event_id, n.type, n.schema_version, n.data, $7::jsonb
    FROM tt_ok, unnest($3::uuid[], $4::text[], $5::int[], $6::jsonb[])
         WITH ORDINALITY AS n(event_id, type, schema_version, data, ord)
    ORDER BY n.ord
    RETURNING position, version, event_id, recorded_at)"""
_APPEND_SELECT = """
SELECT tt_ins.position, tt_ins.version, tt_ins.event_id, tt_ins.recorded_at, tt_cur.v AS previous
FROM tt_cur LEFT JOIN tt_ins ON true
ORDER BY tt_ins.position"""
_APPEND = _APPEND_WITH + _APPEND_SELECT
_APPEND_MANY = """
WITH ins AS (
    INSERT INTO events (stream_id, version, event_id, type, schema_version, data, metadata)
    SELECT e.stream_id, e.version, e.event_id, e.type, e.schema_version, e.data, e.metadata
    FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], $5::int[], $6::text[]::jsonb[],
                $7::text[]::jsonb[])
         WITH ORDINALITY AS e(stream_id, version, event_id, type, schema_version, data, metadata, ord)
    ORDER BY e.ord
    RETURNING 1)
SELECT count(*) FROM ins"""
# A command's idempotency record rides in the same statement (Remembered).
_REMEMBER = """
WITH tt_kept AS (INSERT INTO idempotency_keys (principal, key, request_hash, status, body, headers)
                 VALUES ($8, $9, $10, $11, $12, $13)),"""
_APPEND_KEPT_WITH = _REMEMBER + _APPEND_WITH.replace("WITH", "", 1)
_APPEND_KEPT = _APPEND_KEPT_WITH + _APPEND_SELECT
_APPEND_MANY_KEPT = _REMEMBER + _APPEND_MANY.replace("WITH", "", 1)

# From this many events on, append_many writes by COPY (_copy_many): below it the INSERT's one
# round trip wins, above it COPY's cheaper row path does.
COPY_AT = 256
_COPY_COLUMNS = ("stream_id", "version", "event_id", "type", "schema_version", "data", "metadata")

_COLUMNS = "position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at"
# After the cursor, before the horizon (the oldest transaction still running), in (tx, position) order.
_HORIZON = """FROM events
WHERE (tx, position) > ($1::xid8, $2) AND tx < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY tx, position LIMIT $3"""
_AFTER = f"SELECT {_COLUMNS}, tx {_HORIZON}"
# The same events with what an inline projection reads of them, and nothing else: decoding ids,
# times and metadata was two thirds of reading an event (read_data_after).
_DATA_AFTER = f"SELECT stream_id, version, type, schema_version, data, tx, position {_HORIZON}"


# What the append itself writes and names, for combine.independent (its WITH list, taken apart
# with a main statement standing in for its final SELECT).
def _append_write(head: str) -> combine.Write:
    write = combine.parse(head + "\nINSERT INTO events DEFAULT VALUES")
    if write is None:
        raise AssertionError("the append's own statement must be one combine.parse reads")
    return write


_APPEND_WRITES = {False: _append_write(_APPEND_WITH), True: _append_write(_APPEND_KEPT_WITH)}


@lru_cache(maxsize=256)
def _append_with(remembering: bool, statements: tuple[str, ...], counts: tuple[int, ...]) -> str | None:
    """The append (with its idempotency record when `remembering`) and `statements` as one
    statement, or None when shared/combine.py finds they must run one by one."""
    parsed = [combine.parse(sql) for sql in statements]
    writes = [w for w in parsed if w is not None]
    if len(writes) != len(parsed) or not combine.independent([_APPEND_WRITES[remembering], *writes]):
        return None
    return combine.combined((_APPEND_KEPT_WITH if remembering else _APPEND_WITH).rstrip(),
                            _APPEND_SELECT, 13 if remembering else 7, writes, counts)


@dataclass(frozen=True)
class Remembered:
    """A command's answer under its Idempotency-Key, written with the command's events (one round
    trip): a retry with the same key gets it back instead of running again (shared/unit_of_work.py)."""

    principal: str
    key: str
    request_hash: bytes
    status: int
    body: bytes
    headers: dict[str, str]

    def args(self) -> tuple[object, ...]:
        return self.principal, self.key, self.request_hash, self.status, self.body, self.headers


async def remember(conn: asyncpg.Connection, answer: Remembered) -> None:
    """The idempotency record alone, for a command that recorded no events."""
    await conn.execute("INSERT INTO idempotency_keys (principal, key, request_hash, status, body, headers)"
                       " VALUES ($1, $2, $3, $4, $5, $6)", *answer.args())


class ConcurrencyError(Exception):
    """The stream moved on since the caller read it. The API answers 409 (412 with If-Match)."""

    def __init__(self, stream_id: str, expected: int, actual: int | None) -> None:
        super().__init__(f"stream {stream_id}: expected version {expected}, found {actual}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, order=True)
class Cursor:
    """Where a reader stands in the store's order: the (tx, position) of the last event read.
    Outside the service it is an opaque token (`encode`/`decode`): clients pass `next` back."""

    tx: int = 0
    position: int = 0

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.tx}.{self.position}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """The cursor of a token this service issued; ValueError for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
            tx, position = (int(part) for part in raw.split("."))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise ValueError("not a cursor of this feed") from None
        if not (0 <= tx < 2**63 and 0 <= position < 2**63):
            raise ValueError("not a cursor of this feed")
        return cls(tx, position)


START = Cursor()
_NO_METADATA = Metadata()


class _Wakers:
    """What to call after a transaction in this process that appended events of one source commits:
    the wake-ups of that source's relays. Kept by source, not by EventStore object: a service's
    handlers may append through a store of their own with the app's source (services/credits/events.py)."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls: list[Callable[[], None]] = []

    def __call__(self) -> None:
        for wake in tuple(self.calls):
            wake()


_WAKERS: dict[str, _Wakers] = {}


@dataclass(frozen=True)
class Page:
    events: list[Envelope]
    next: Cursor  # pass it as `after` next time


@dataclass(frozen=True)
class DataPage:
    """Events as (stream_id, version, type, data), upcast, in the store's order (read_data_after)."""

    events: list[tuple[str, int, str, dict[str, Any]]]
    start: Cursor  # read after this one: read_after(start, len(events)) gives the same events in full
    next: Cursor
    last_position: int


class EventStore:
    def __init__(self, source: str, registry: EventRegistry | None = None) -> None:
        self.source = source if source.startswith("/") else "/" + source
        self.registry = registry or EventRegistry()
        self._wakers = _WAKERS.setdefault(self.source, _Wakers())

    def on_commit(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake` after each transaction in this process that appended events of this source
        commits (the relay's wake-up: module docstring). Returns what unregisters it."""
        self._wakers.calls.append(wake)
        return lambda: self._wakers.calls.remove(wake)

    def _wake_after_commit(self, conn: asyncpg.Connection) -> None:
        # Only connections of shared/db.py know when they commit; on others the relay's poll finds
        # the events. Nothing to do while no relay of this source runs here (bench/peer.py, tools).
        if self._wakers.calls and (after_commit := getattr(conn, "after_commit", None)) is not None:
            after_commit(self._wakers)

    async def append(
        self,
        conn: asyncpg.Connection,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        metadata: Metadata | None = None,
        answer: Remembered | None = None,
        writes: Sequence[tuple[str, Sequence[Any]]] = (),
    ) -> list[Envelope]:
        """Append inside the caller's transaction; the relay publishes them after COMMIT (they are
        the outbox until it has: shared/relay.py). `answer`, a command's idempotency record, is
        written by the same statement. `writes`, (sql, args) of statements that go with the
        events (a command's inline projections: shared/inline.py), ride in that statement too
        where shared/combine.py finds it safe, and otherwise run after it, in order."""
        if not events:
            if answer:
                await remember(conn, answer)
            return []
        if not conn.is_in_transaction():
            raise RuntimeError("append must run inside the caller's transaction")
        envelopes = await self._append(conn, stream_id, expected_version, events, metadata, answer, writes)
        self._wake_after_commit(conn)
        return envelopes

    async def append_and_commit(
        self, conn: asyncpg.Connection, stream_id: str, expected_version: int, events: Sequence[NewEvent],
        metadata: Metadata | None = None,
    ) -> list[Envelope]:
        """`append` as a transaction of its own, committed when it returns, for a caller that
        writes nothing else with these events. No service calls it today: a command's append runs
        in the command's transaction. bench/peer.py's writers do, as the peer library's
        insert_events is a transaction of its own. Its one statement runs in PostgreSQL's implicit
        transaction, committed before the server answers: one round trip where BEGIN, the
        statement and COMMIT take three. Atomic all the same — one statement writes every event or
        none — and a stream that moved on writes nothing (ConcurrencyError)."""
        if conn.is_in_transaction():
            raise RuntimeError("append_and_commit commits by itself: inside a transaction, use append")
        envelopes = await self._append(conn, stream_id, expected_version, events, metadata)
        if envelopes and self._wakers.calls:
            self._wakers()  # committed already: there is no COMMIT for the connection to see
        return envelopes

    async def _append(
        self, conn: asyncpg.Connection, stream_id: str, expected_version: int, events: Sequence[NewEvent],
        metadata: Metadata | None = None, answer: Remembered | None = None,
        writes: Sequence[tuple[str, Sequence[Any]]] = (),
    ) -> list[Envelope]:
        if not events:
            return []
        meta = metadata or Metadata()
        sql = _APPEND_KEPT if answer else _APPEND
        riding: tuple[Any, ...] = ()
        if writes:
            one = _append_with(answer is not None, tuple(w[0] for w in writes), tuple(len(w[1]) for w in writes))
            if one is not None:
                sql, riding, writes = one, tuple(a for w in writes for a in w[1]), ()
        # One round trip: the events go in if the stream is at the expected version.
        try:
            rows = await conn.fetch(
                sql,
                stream_id,
                expected_version,
                [e.event_id for e in events],
                [e.type for e in events],
                [e.schema_version for e in events],
                [e.data for e in events],
                meta.as_json(),
                *(answer.args() if answer else ()),
                *riding,
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "events_stream_version":
                raise ConcurrencyError(stream_id, expected_version, None) from exc
            raise
        if rows and rows[0]["position"] is None:
            raise ConcurrencyError(stream_id, expected_version, rows[0]["previous"])
        for write_sql, args in writes:  # not combinable: one statement each, after the events
            await conn.execute(write_sql, *args)
        return [
            Envelope(
                id=row["event_id"], source=self.source, type=ev.type, subject=stream_id,
                time=row["recorded_at"], data=ev.data, schema_version=ev.schema_version,
                stream_version=row["version"], position=row["position"],
                correlation_id=meta.correlation_id, causation_id=meta.causation_id,
                actor=meta.actor, traceparent=meta.traceparent,
            )
            for row, ev in zip(rows, events, strict=True)
        ]

    async def append_many(
        self, conn: asyncpg.Connection,
        streams: Sequence[tuple[str, int, Sequence[NewEvent], Metadata | None]],
        answer: Remembered | None = None,
    ) -> int:
        """Events for many streams in one round trip inside the caller's transaction
        (_APPEND_MANY): `(stream_id, expected_version, events, metadata)` each. Versions are
        written explicitly (expected + 1, …), so UNIQUE (stream_id, version) is the optimistic
        check: a stream that moved on since it was read fails the insert (ConcurrencyError) and
        the caller's transaction rolls back. Relayed as `append`'s are; no ANY_VERSION.
        Returns the number of events written."""
        if not conn.is_in_transaction():
            raise RuntimeError("append_many must run inside the caller's transaction")
        if any(expected < 0 for _, expected, _, _ in streams):
            raise ValueError("append_many needs each stream's expected version")
        if sum(len(evs) for _, _, evs, _ in streams) >= COPY_AT:
            return await self._copy_many(conn, streams, answer)
        # Data and metadata go as JSON text, made here once each (a command's streams share one
        # Metadata) and cast to jsonb by the server: the text the jsonb codec would send
        # (shared/db.py), without a codec call per array element.
        metas: dict[int, str] = {}
        for _, _, _, meta in streams:
            if id(meta) not in metas:
                metas[id(meta)] = orjson.dumps((meta or _NO_METADATA).as_json()).decode()
        rows = [(sid, expected + i, ev, metas[id(meta)])
                for sid, expected, evs, meta in streams for i, ev in enumerate(evs, start=1)]
        if not rows:
            if answer:
                await remember(conn, answer)
            return 0
        try:
            n: int = await conn.fetchval(
                _APPEND_MANY_KEPT if answer else _APPEND_MANY,
                [r[0] for r in rows], [r[1] for r in rows], [r[2].event_id for r in rows],
                [r[2].type for r in rows], [r[2].schema_version for r in rows],
                [orjson.dumps(r[2].data).decode() for r in rows], [r[3] for r in rows],
                *(answer.args() if answer else ()),
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "events_stream_version":
                raise ConcurrencyError("(several streams)", NO_STREAM, None) from exc
            raise
        self._wake_after_commit(conn)
        return n

    async def _copy_many(self, conn: asyncpg.Connection,
                         streams: Sequence[tuple[str, int, Sequence[NewEvent], Metadata | None]],
                         answer: Remembered | None) -> int:
        """`append_many` of a bulk import: the rows by binary COPY, not by INSERT from arrays — on
        the bench machine 4,000 events took 35 ms against 55. COPY keeps what the INSERT relies on:
        the rows' order draws the positions, the defaults fill tx and recorded_at, the same
        constraints are checked (a stream that moved on is the same unique violation), and it
        runs in the caller's transaction. The idempotency record, if any, takes a round trip of
        its own: nothing next to thousands of rows."""
        # The records straight from the streams (a credits intake batch makes 256 per round). jsonb's
        # binary codec serialises what it is given: each distinct Metadata goes in as its JSON, made
        # once (an orjson Fragment, written out as it is), the data as the dict it is.
        metas: dict[int, orjson.Fragment] = {}
        records: list[tuple[str, int, uuid.UUID, str, int, dict[str, Any], orjson.Fragment]] = []
        add = records.append
        for sid, expected, evs, meta in streams:
            if (text := metas.get(id(meta))) is None:
                text = metas[id(meta)] = orjson.Fragment(orjson.dumps((meta or _NO_METADATA).as_json()))
            for version, ev in enumerate(evs, start=expected + 1):
                add((sid, version, ev.event_id, ev.type, ev.schema_version, ev.data, text))
        try:
            await conn.copy_records_to_table("events", columns=_COPY_COLUMNS, records=records)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "events_stream_version":
                raise ConcurrencyError("(several streams)", NO_STREAM, None) from exc
            raise
        if answer:
            await remember(conn, answer)
        self._wake_after_commit(conn)
        return len(records)

    async def append_new_streams(
        self, conn: asyncpg.Connection, streams: Sequence[tuple[str, Sequence[NewEvent], Metadata | None]],
    ) -> int:
        """The first events of many streams that must not exist yet: `append_many` at NO_STREAM."""
        return await self.append_many(conn, [(sid, NO_STREAM, evs, meta) for sid, evs, meta in streams])

    async def load_many(self, conn: asyncpg.Connection, stream_ids: Sequence[str]) -> dict[str, list[Envelope]]:
        """Every event of each stream, in version order, in one round trip (absent streams: [])."""
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, version",
            list(stream_ids))
        out: dict[str, list[Envelope]] = {sid: [] for sid in stream_ids}
        for r in rows:
            out[r["stream_id"]].append(self._envelope(r))
        return out

    async def load(self, conn: asyncpg.Connection, stream_id: str, after_version: int = 0) -> list[Envelope]:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = $1 AND version > $2 ORDER BY version",
            stream_id, after_version,
        )
        return [self._envelope(r) for r in rows]

    async def read_after(self, conn: asyncpg.Connection, after: Cursor | int = START, limit: int = 500) -> Page:
        """The next events after `after` in the store's order, up to the commit horizon: safe to
        tail, see the module docstring. A plain position (what `head` returns) stands for the
        cursor of the event at that position."""
        if not isinstance(after, Cursor):
            after = await self.cursor_at(conn, after)
        rows = await conn.fetch(_AFTER, after.tx, after.position, limit)
        events = [self._envelope(r) for r in rows]
        return Page(events, Cursor(rows[-1]["tx"], rows[-1]["position"]) if rows else after)

    async def read_data_after(self, conn: asyncpg.Connection, after: Cursor, limit: int = 2000) -> DataPage:
        """`read_after` for a reader that needs only each event's stream, version, type and data
        (an inline replay): no ids, times or metadata decoded, no envelopes built."""
        rows = await conn.fetch(_DATA_AFTER, after.tx, after.position, limit)
        upcast = self.registry.upcast_data
        events = [(r[0], r[1], r[2], upcast(r[2], r[3], r[4])[0]) for r in rows]
        if not rows:
            return DataPage(events, after, after, 0)
        return DataPage(events, after, Cursor(rows[-1]["tx"], rows[-1]["position"]),
                        max(r["position"] for r in rows))

    async def cursor_at(self, conn: asyncpg.Connection, position: int) -> Cursor:
        """The cursor that reads on from the event at `position` (the start for 0)."""
        tx = await conn.fetchval("SELECT tx FROM events WHERE position = $1", position) if position > 0 else None
        return Cursor(tx or 0, position)

    async def head(self, conn: asyncpg.Connection) -> int:
        head: int = await conn.fetchval("SELECT coalesce(max(position), 0) FROM events")
        return head

    async def by_ids(self, conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> list[Envelope]:
        rows = await conn.fetch(f"SELECT {_COLUMNS} FROM events WHERE event_id = ANY($1) ORDER BY position", ids)
        return [self._envelope(r) for r in rows]

    def _envelope(self, row: asyncpg.Record) -> Envelope:
        meta = row["metadata"] or {}
        env = Envelope(
            id=row["event_id"], source=self.source, type=row["type"], subject=row["stream_id"],
            time=row["recorded_at"], data=row["data"], schema_version=row["schema_version"],
            stream_version=row["version"], position=row["position"],
            correlation_id=meta.get("correlationid"), causation_id=meta.get("causationid"),
            actor=meta.get("actor"), traceparent=meta.get("traceparent"),
        )
        return self.registry.upcast(env)


# A visible row with a transaction id this server has not handed out yet was not written here.
_FOREIGN_TX = "SELECT EXISTS (SELECT 1 FROM events WHERE tx >= pg_snapshot_xmax(pg_current_snapshot()))"
_ADOPT = [
    # The cursor first, while the old order still stands: just before the first event it had not
    # published, else after the last event.
    """UPDATE relay_cursor c SET tx = '0', position = coalesce(
         (SELECT min(e.position) - 1 FROM events e WHERE (e.tx, e.position) > (c.tx, c.position)),
         (SELECT max(e.position) FROM events e), 0)""",
    "UPDATE events SET tx = '0' WHERE tx <> '0'",
]


async def restored_events_pending(conn: asyncpg.Connection) -> bool:
    """Whether the store holds events restored from another server that are not renumbered yet:
    reading it now would miss them (see the module's docstring)."""
    return bool(await conn.fetchval(_FOREIGN_TX))


async def adopt_restored_events(conn: asyncpg.Connection) -> int:
    """Renumber the `tx` of events restored from another server (see the module's docstring);
    returns how many rows changed, 0 when the store's ids are this server's own. Callers hold the
    migration lock, so replicas starting at once do it once; one transaction, so all or nothing."""
    if not await restored_events_pending(conn):
        return 0
    async with conn.transaction():
        await conn.execute("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")  # no append meanwhile
        if not await restored_events_pending(conn):
            return 0
        await conn.execute(_ADOPT[0])
        status = await conn.execute(_ADOPT[1])
    return int(status.rsplit(" ", 1)[-1])
