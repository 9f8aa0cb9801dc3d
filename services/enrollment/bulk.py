"""Recording the first events of many new streams at once (CSV imports).

`EventStore.append` is per stream: 10,000 imported teachers would be 20,000 round trips under
the commit-ordering lock. `EventStore.append_new_streams` writes them all in one round trip with
the same guarantees (shared/eventstore.py); this module runs the query-table handlers first, in
bulk where a module supplies a bulk projector.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from services.enrollment.events import registry
from services.enrollment.projector import project
from shared.envelope import Metadata
from shared.eventstore import EventStore

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
    by_stream: dict[str, list] = {}
    for sid, _, t, d in items:
        by_stream.setdefault(sid, []).append(registry.new(t, d))
    return await store.append_new_streams(conn, [(sid, evs, metadata) for sid, evs in by_stream.items()])
