"""Inline projection: a service's own query tables, kept in the same transaction as the
events that change them, so the owner always reads its own writes.

`record` is the one way a service's events enter its store: run the handlers first, append
last. A handler may refuse race-free (a guarded UPDATE, a unique key) before any event exists,
and appending last holds the store's commit-ordering lock (shared/eventstore.py) for the
shortest time. Because handlers take only (stream id, version, type, data), the same handlers
rebuild the tables from the store (`as_projection`) and tests can seed "given events" through
exactly the production path.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from .envelope import Envelope, EventRegistry, Metadata, NewEvent
from .eventstore import EventStore
from .projection import Projection

Handler = Callable[[asyncpg.Connection, str, int, dict[str, Any]], Awaitable[None]]


class InlineProjector:
    def __init__(self, registry: EventRegistry) -> None:
        self.registry = registry
        self.handlers: dict[str, Handler] = {}

    def handles(self, *types: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            for t in types:
                if t in self.handlers:
                    raise ValueError(f"two projector handlers for {t}")
                self.handlers[t] = fn
            return fn

        return deco

    async def project(self, conn: asyncpg.Connection, stream_id: str, version: int, type_: str,
                      data: dict[str, Any]) -> None:
        handler = self.handlers.get(type_)
        if handler is not None:
            await handler(conn, stream_id, version, data)

    async def record(
        self, conn: asyncpg.Connection, store: EventStore, stream_id: str, expected_version: int,
        events: Sequence[tuple[str, dict[str, Any]]], metadata: Metadata | None = None,
        event_ids: Sequence[uuid.UUID] | None = None,
    ) -> list[Envelope]:
        """`event_ids` lets a reaction use deterministic ids (events.event_id is UNIQUE), so the
        same source event can never be recorded twice."""
        for i, (type_, data) in enumerate(events, start=1):
            await self.project(conn, stream_id, expected_version + i, type_, data)
        ids = list(event_ids) if event_ids is not None else [uuid.uuid4() for _ in events]
        new = [NewEvent(t, d, self.registry.current_version(t), eid) for (t, d), eid in zip(events, ids, strict=True)]
        return await store.append(conn, stream_id, expected_version, new, metadata)

    def as_projection(self, name: str, source: str, tables: Sequence[str]) -> Projection:
        """The handlers as a Projection over the service's own stream, for rebuilds."""
        inline = self

        class _Rebuild(Projection):
            async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
                await inline.project(conn, event.subject, event.stream_version, event.type, event.data)

            async def reset(self, conn: asyncpg.Connection) -> None:
                await conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")

        p = _Rebuild()
        p.name, p.sources, p.handles = name, (source,), frozenset(self.registry.types)
        return p
