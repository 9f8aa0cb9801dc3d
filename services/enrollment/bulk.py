"""Recording the first events of many new streams in one statement (CSV imports).

`EventStore.append` is per stream: 10,000 imported teachers would be 20,000 round trips under
the commit-ordering lock. This path keeps the store's guarantees and its exact SQL shape —
the same lock taken before positions are drawn (shared/eventstore.py explains why), outbox rows
queued in the same statement, and NO_STREAM semantics backed by UNIQUE (stream_id, version): a
stream that already exists makes the insert fail and the whole command roll back.

Candidate for the kernel (EventStore.append_new_streams); it uses only the store's public
contract (the events/outbox tables, COMMIT_ORDER_LOCK, the registry).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from services.enrollment.events import registry
from services.enrollment.projector import project
from shared.envelope import Metadata
from shared.eventstore import COMMIT_ORDER_LOCK, NO_STREAM, ConcurrencyError, EventStore

_APPEND_NEW = """
WITH ins AS (
    INSERT INTO events (stream_id, version, event_id, type, schema_version, data, metadata)
    SELECT e.stream_id, e.version, e.event_id, e.type, e.schema_version, e.data, $7::jsonb
    FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], $5::int[], $6::jsonb[])
         WITH ORDINALITY AS e(stream_id, version, event_id, type, schema_version, data, ord)
    ORDER BY e.ord
    RETURNING position
)
INSERT INTO outbox (position) SELECT position FROM ins
"""

StreamEvents = tuple[str, Sequence[tuple[str, dict[str, Any]]]]
# Projects many (stream_id, version, type, data) at once; default: each through its handler.
BulkProjector = Callable[[asyncpg.Connection, list[tuple[str, int, str, dict[str, Any]]]], Awaitable[None]]


async def _project_each(conn: asyncpg.Connection, items: list[tuple[str, int, str, dict[str, Any]]]) -> None:
    for stream_id, version, type_, data in items:
        await project(conn, stream_id, version, type_, data)


async def record_new_streams(
    conn: asyncpg.Connection, store: EventStore, streams: Sequence[StreamEvents],
    metadata: Metadata | None = None, bulk_project: BulkProjector = _project_each,
) -> int:
    """Like projector.record for many streams that must not exist yet: project first, append
    last, inside the caller's transaction. Returns the number of events recorded."""
    if not conn.is_in_transaction():
        raise RuntimeError("record_new_streams must run inside the caller's transaction")
    items = [(sid, v, t, d) for sid, evs in streams for v, (t, d) in enumerate(evs, start=1)]
    if not items:
        return 0
    await bulk_project(conn, items)
    new = [registry.new(t, d) for _, _, t, d in items]
    meta = metadata or Metadata()
    await conn.execute("SELECT pg_advisory_xact_lock($1), pg_notify('outbox', '')", COMMIT_ORDER_LOCK)
    try:
        await conn.execute(
            _APPEND_NEW, [i[0] for i in items], [i[1] for i in items], [e.event_id for e in new],
            [e.type for e in new], [e.schema_version for e in new], [e.data for e in new], meta.as_json(),
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "events_stream_version":
            raise ConcurrencyError("(bulk)", NO_STREAM, None) from exc
        raise
    return len(items)
