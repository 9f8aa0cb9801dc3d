"""Event store on PostgreSQL.

Why a commit-ordering lock
--------------------------
`position` comes from an identity sequence, and sequence values are handed out when a row is
inserted, not when its transaction commits. Without care, transaction T1 can draw position 10,
T2 draw 11 and commit first; a reader tailing "everything after 9" sees 11, moves its cursor
there, and never sees 10 when T1 commits a moment later. That silently loses events for the
feed, rebuilds, and anything else that reads by position.

Every append therefore takes one transaction-scoped advisory lock (per database, i.e. per
service) *before* drawing positions, and holds it until commit. PostgreSQL makes a committed
transaction visible before it releases its locks, so when the next appender gets the lock and
draws position 11, position 10 is already visible to everyone. Positions become visible in
order; a reader can never observe a later position while an earlier one is still pending.
The price is that appends serialise on commit — keep `append` the last statement of a
command's transaction. tests/test_eventstore.py holds a transaction open to prove the order.

Optimistic concurrency per stream: the insert only happens if the stream is at the expected
version (checked in the same statement), and UNIQUE (stream_id, version) backs it up.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from .envelope import Envelope, EventRegistry, Metadata, NewEvent

COMMIT_ORDER_LOCK = 0x7474_6576_656E  # "tteven"; the SQL functions (migrations 0002, 0003) spell it 128043267286382

ANY_VERSION = -1  # append regardless of the stream's version
NO_STREAM = 0  # the stream must not exist yet

# Lock, then insert: one round trip through the tt_append function
# (shared/migrations/0002_kernel_functions.sql), which must use the same lock key.
_APPEND = "SELECT * FROM tt_append($1, $2, $3, $4, $5, $6, $7)"

_COLUMNS = "position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at"


class ConcurrencyError(Exception):
    """The stream moved on since the caller read it. The API answers 409 (412 with If-Match)."""

    def __init__(self, stream_id: str, expected: int, actual: int | None) -> None:
        super().__init__(f"stream {stream_id}: expected version {expected}, found {actual}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class Page:
    events: list[Envelope]
    next: int  # the position to pass as `after` next time


class EventStore:
    def __init__(self, source: str, registry: EventRegistry | None = None) -> None:
        self.source = source if source.startswith("/") else "/" + source
        self.registry = registry or EventRegistry()

    async def append(
        self,
        conn: asyncpg.Connection,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        metadata: Metadata | None = None,
    ) -> list[Envelope]:
        """Append inside the caller's transaction; also queues the events in the outbox."""
        if not events:
            return []
        if not conn.is_in_transaction():
            raise RuntimeError("append must run inside the caller's transaction")
        meta = metadata or Metadata()
        # tt_append takes the commit-ordering lock, queues a NOTIFY (delivered at commit, it
        # wakes the relay wherever it runs) and inserts events + outbox rows: one round trip.
        try:
            rows = await conn.fetch(
                _APPEND,
                stream_id,
                expected_version,
                [e.event_id for e in events],
                [e.type for e in events],
                [e.schema_version for e in events],
                [e.data for e in events],
                meta.as_json(),
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "events_stream_version":
                raise ConcurrencyError(stream_id, expected_version, None) from exc
            raise
        if rows and rows[0]["position"] is None:
            raise ConcurrencyError(stream_id, expected_version, rows[0]["previous"])
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
    ) -> int:
        """Events for many streams in one round trip inside the caller's transaction
        (tt_append_new): `(stream_id, expected_version, events, metadata)` each. Versions are
        written explicitly (expected + 1, …), so UNIQUE (stream_id, version) is the optimistic
        check: a stream that moved on since it was read fails the insert (ConcurrencyError) and
        the caller's transaction rolls back. Same lock and outbox as `append`; no ANY_VERSION.
        Returns the number of events written."""
        if not conn.is_in_transaction():
            raise RuntimeError("append_many must run inside the caller's transaction")
        if any(expected < 0 for _, expected, _, _ in streams):
            raise ValueError("append_many needs each stream's expected version")
        rows = [(sid, expected + i, ev, (meta or Metadata()).as_json())
                for sid, expected, evs, meta in streams for i, ev in enumerate(evs, start=1)]
        if not rows:
            return 0
        try:
            n: int = await conn.fetchval(
                "SELECT tt_append_new($1, $2, $3, $4, $5, $6, $7)",
                [r[0] for r in rows], [r[1] for r in rows], [r[2].event_id for r in rows],
                [r[2].type for r in rows], [r[2].schema_version for r in rows], [r[2].data for r in rows],
                [r[3] for r in rows],
            )
            return n
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "events_stream_version":
                raise ConcurrencyError("(several streams)", NO_STREAM, None) from exc
            raise

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

    async def read_after(self, conn: asyncpg.Connection, after: int, limit: int = 500) -> Page:
        """Everything after `after`, in position order. Safe to tail: see the module docstring."""
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2", after, limit
        )
        events = [self._envelope(r) for r in rows]
        return Page(events, events[-1].position if events else after)

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
