"""Inline projector: keeps the enrollment service's query tables in step with its events, in
the same transaction as the append.

Handlers are keyed by event type and receive (conn, stream_id, version, data). Cross-stream
rules that must hold under concurrency (a region's quota, one 国培 per teacher per year) are
guarded updates and unique keys in these tables, so a handler may raise `Refused`.

`record` is the one way events enter the store: project first, append last. Appending last
keeps the commit-ordering lock (shared/eventstore.py) held for the shortest time, and a
refusal raised by a handler costs no event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from services.enrollment.events import registry
from shared.envelope import Envelope, Metadata
from shared.eventstore import EventStore

Handler = Callable[[asyncpg.Connection, str, int, dict[str, Any]], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}


def handles(*types: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for t in types:
            if t in HANDLERS:
                raise ValueError(f"two projector handlers for {t}")
            HANDLERS[t] = fn
        return fn

    return deco


async def project(conn: asyncpg.Connection, stream_id: str, version: int, type_: str, data: dict[str, Any]) -> None:
    handler = HANDLERS.get(type_)
    if handler is not None:
        await handler(conn, stream_id, version, data)


async def record(
    conn: asyncpg.Connection, store: EventStore, stream_id: str, expected_version: int,
    events: Sequence[tuple[str, dict[str, Any]]], metadata: Metadata | None = None,
) -> list[Envelope]:
    for i, (type_, data) in enumerate(events, start=1):
        await project(conn, stream_id, expected_version + i, type_, data)
    return await store.append(conn, stream_id, expected_version, [registry.new(t, d) for t, d in events], metadata)


def load_handlers() -> None:
    # Import for their @handles side effect; each module owns its tables.
    from services.enrollment.projector import enrollments, projects, roster  # noqa: F401
