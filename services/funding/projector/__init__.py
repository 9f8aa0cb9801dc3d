"""Inline projector of the funding service's own events: keeps policies, accounts and the
ledger's entries in step with the event store, in the same transaction as the append.

`record` is the one way funding events enter the store: project first, append last. Projecting
first lets a handler refuse race-free (the balance guard is a guarded UPDATE holding the
account row's lock) before any event exists; appending last keeps the store's commit-ordering
lock (shared/eventstore.py) held for the shortest time. Rows are locked in one global order —
an allocating org before the org below it — so concurrent commands cannot deadlock.

The same handlers rebuild the tables from the event store: `LedgerProjection` is not run by a
live consumer (the inline projector already applied every event); it serves
`shared.projection.rebuild(pool, LedgerProjection(), store_source(pool, store))`. Run it with the
service's commands stopped (a maintenance window): a command committing mid-rebuild would be
applied inline and then again by the replay. The enrollment-fed projections
(projector/directory.py) have no such limit: the kernel's checkpoints make them safe live.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from services.funding.events import registry
from shared.envelope import Envelope, Metadata
from shared.eventstore import EventStore
from shared.projection import Projection

Handler = Callable[[asyncpg.Connection, str, int, dict[str, Any]], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}
LEDGER_TABLES = ("funding_policies", "funding_accounts", "funding_entries")


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


class LedgerProjection(Projection):
    """The ledger's read models, rebuilt from the funding service's own event store."""

    name = "funding_ledger"
    sources = ("funding",)
    handles = frozenset(registry.types)

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        await project(conn, event.subject, event.stream_version, event.type, event.data)

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {', '.join(LEDGER_TABLES)} RESTART IDENTITY")


def load_handlers() -> None:
    # Imported for their @handles side effect.
    from services.funding.projector import ledger  # noqa: F401
