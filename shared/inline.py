"""Inline projections: a service's own tables, kept in the same transaction as the events that
change them, so the owner always reads its own writes — and rebuilt from its event store.

Two kinds, one mechanism (DESIGN.md "Inside a service"):
- guards hold the facts that make cross-stream rules race-free (a region's places used, a
  teacher's national slot of the year, an account's balance). A handler reads them under a lock,
  the pure `decide` judges, and the guard projection writes the new facts from the events;
- read models answer queries.
Neither ever refuses: the decision was made before the events existed. A unique key that still
fires is a race the handler's lock should have prevented; the kernel answers it 409.

A handler takes (conn, stream_id, version, data) and is registered for event types with
`@projection.handles(...)`. The unit of work (shared/unit_of_work.py) runs every inline projection
of the service over the events a command records, right after appending them; `InlineReplay`,
through the kernel's `rebuild`, replays the whole store through the same handlers, so live and
rebuilt tables are equal by construction (tests/test_rebuild_all.py holds them to it).

Rebuild safety: commands take INLINE_LOCK shared at their first statement; a rebuild holds it
exclusively for its whole run, so no command projects into a table while it is being refilled.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import asyncpg

from .envelope import Envelope, EventRegistry, Metadata, NewEvent
from .eventstore import DataPage, EventStore, Remembered
from .feed import StoreSource
from .projection import LeanSource, Projection, Traced
from .sqltext import Prepared

Handler = Callable[[asyncpg.Connection, str, int, dict[str, Any]], Awaitable[None]]
# Commands hold it shared (tt_begin_command, shared/migrations/0004); a rebuild exclusively.
INLINE_LOCK = 0x7474_696E_6C6E  # "ttinln"; the SQL (migration 0004) spells it 128043333872750


class Pending(NamedTuple):
    """An event on its way into the store: what inline handlers see of it (a tuple: rebuilds and
    imports make them by the million)."""

    stream_id: str
    version: int
    type: str
    data: dict[str, Any]


BulkHandler = Callable[[asyncpg.Connection, Sequence[Pending]], Awaitable[None]]


class InlineProjection:
    """Handlers for a set of tables, by event type; `tables` are what a rebuild empties."""

    def __init__(self, name: str, tables: Sequence[str]) -> None:
        self.name = name
        self.tables = tuple(tables)
        self.handlers: dict[str, Handler] = {}
        self.bulk: dict[str, BulkHandler] = {}

    def handles(self, *types: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            for t in types:
                if t in self.handlers:
                    raise ValueError(f"{self.name}: two handlers for {t}")
                self.handlers[t] = fn
            return fn

        return deco

    def handles_many(self, type_: str) -> Callable[[BulkHandler], BulkHandler]:
        """A set-based handler for a run of events of one type (bulk imports, rebuilds); it must
        have exactly the effect of the one-event handler applied to each in turn."""
        def deco(fn: BulkHandler) -> BulkHandler:
            self.bulk[type_] = fn
            return fn

        return deco

    async def apply(self, conn: asyncpg.Connection, events: Sequence[Pending]) -> None:
        """Apply events in order; runs of one type with a bulk handler go in one call."""
        types = {e.type for e in events}
        if self.handlers.keys().isdisjoint(types) and self.bulk.keys().isdisjoint(types):
            return  # none is ours: not walked one by one (a credits intake batch: 256 awards, no policy)
        i = 0
        while i < len(events):
            ev = events[i]
            bulk = self.bulk.get(ev.type)
            if bulk is not None:
                j = i
                while j < len(events) and events[j].type == ev.type:
                    j += 1
                await bulk(conn, events[i:j])
                i = j
                continue
            handler = self.handlers.get(ev.type)
            if handler is not None:
                await handler(conn, ev.stream_id, ev.version, ev.data)
            i += 1

    async def reset(self, conn: asyncpg.Connection) -> None:
        if self.tables:
            await conn.execute(f"TRUNCATE {', '.join(self.tables)} RESTART IDENTITY")


async def project_and_append(
    conn: asyncpg.Connection, store: EventStore, projections: Sequence[InlineProjection],
    streams: Sequence[tuple[str, int, Sequence[NewEvent], Metadata | None]],
    answer: Remembered | None = None, commit_writes: list[str] | None = None,
) -> list[Envelope]:
    """The one way events enter a service's store: the append first (a stream that moved on fails
    before any table is touched), then the inline projections in the order the service lists them —
    its guards last: their row locks hold back other commands of the same facts until COMMIT, so
    they are taken as late as the transaction allows. One stream goes through `append` (envelopes
    back); several, through one `append_many` round trip. A command's idempotency record (`answer`)
    goes in with the append's statement. With `commit_writes`, a command's one stream gives it the
    handlers' `at_commit` statements, as text, for the caller to send with its COMMIT."""
    pending = [Pending(sid, expected + i, e.type, e.data)
               for sid, expected, evs, _ in streams for i, e in enumerate(evs, start=1)]
    if len(streams) == 1:
        # A command's usual case: the handlers' writes are kept and ride in the append's statement
        # (shared/combine.py), one round trip for the events, read models and guards.
        sid, expected, evs, meta = streams[0]
        deferred = _Deferred(conn, lambda writes: store.append(conn, sid, expected, evs, meta, answer, writes),
                             commit_writes)
        for p in projections:
            await p.apply(deferred, pending)  # handlers see a connection that keeps their writes
        return await deferred.flush()
    await store.append_many(conn, [(sid, expected, evs, meta) for sid, expected, evs, meta in streams if evs],
                            answer)
    for p in projections:
        await p.apply(conn, pending)
    return []


class _Deferred:
    """The connection as inline handlers see it while a command's events are projected: `execute`
    only keeps the statement (handlers never read its status: they never refuse), to be sent with
    the append by `flush`. Anything else a handler does on it — a read, a COPY — first appends and
    sends what was kept, in order, so it sees every write before it, as when each ran at once."""

    __slots__ = ("_conn", "_append", "_writes", "_recorded", "commit_writes")

    def __init__(self, conn: asyncpg.Connection,
                 append: Callable[[Sequence[tuple[str, Sequence[Any]]]], Awaitable[list[Envelope]]],
                 commit_writes: list[str] | None = None) -> None:
        self._conn = conn
        self._append = append
        self._writes: list[tuple[str, Sequence[Any]]] = []
        self._recorded: list[Envelope] | None = None
        self.commit_writes = commit_writes  # at_commit's statements, when the caller sends them

    async def flush(self) -> list[Envelope]:
        """Append with the kept writes (once); later calls only send what was kept since."""
        writes, self._writes = self._writes, []
        if self._recorded is None:
            self._recorded = await self._append(writes)
        else:
            for sql, args in writes:
                await self._conn.execute(sql, *args)
        return self._recorded

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        self._writes.append((query, args))
        return ""

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        await self.flush()
        return await self._conn.fetch(*args, **kwargs)

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        await self.flush()
        return await self._conn.fetchrow(*args, **kwargs)

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        await self.flush()
        return await self._conn.fetchval(*args, **kwargs)

    async def executemany(self, *args: Any, **kwargs: Any) -> Any:
        await self.flush()
        return await self._conn.executemany(*args, **kwargs)

    async def copy_records_to_table(self, *args: Any, **kwargs: Any) -> Any:
        await self.flush()
        return await self._conn.copy_records_to_table(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # Anything else (a savepoint, a cursor) could not first send what was kept: refused
        # rather than run out of order. Inline handlers use only the methods above.
        raise AttributeError(f"inline handlers get execute, fetch*, executemany and COPY, not conn.{name}")


@functools.lru_cache(maxsize=256)
def _commit_statement(sql: str) -> Prepared:
    return Prepared(sql)


async def at_commit(conn: asyncpg.Connection, sql: str, *args: Any) -> None:
    """A guard's write to a row that every command of the same facts writes too (a region's places
    used, guards.py), sent in the COMMIT's own message when a command's unit of work runs it: the
    row is then locked from this statement to the end of COMMIT inside one message, not across the
    round trip and the service's event loop between the command's write and its COMMIT, where
    concurrent nominations of one region used to queue (docs/benchmarks.md). A backstop it fires
    (a CHECK) fails the COMMIT's message, and the command runs again like any race. Anywhere else
    (a rebuild, a bulk import, a reaction) it runs at once, in order. So the command's own later
    reads do not see it: only for a row nothing after it in the command reads (a counter whose
    CHECK is the backstop). `sql` uses $1, $2, … as usual; it is prepared once per connection and
    run by name, its values spelled into the message (shared/sqltext.py: text, UUIDs, ints)."""
    if isinstance(conn, _Deferred) and conn.commit_writes is not None:
        statement = _commit_statement(sql)
        await statement.ready(conn._conn)
        conn.commit_writes.append(statement.call(args))
    else:
        await conn.execute(sql, *args)


def new_events(registry: EventRegistry, events: Sequence[tuple[str, dict[str, Any]]],
               event_ids: Sequence[uuid.UUID] | None = None) -> list[NewEvent]:
    """Decided (type, data) pairs as NewEvents at the registry's current schema versions;
    `event_ids` lets a reaction use deterministic ids (events.event_id is UNIQUE), so the same
    source event can never be recorded twice."""
    ids = list(event_ids) if event_ids is not None else [uuid.uuid4() for _ in events]
    return [NewEvent(t, d, registry.version_for(t, d), eid) for (t, d), eid in zip(events, ids, strict=True)]


async def take_inline_lock(conn: asyncpg.Connection) -> None:
    """For a writer outside a command (a projection recording reactions): hold INLINE_LOCK shared
    for the rest of the transaction, as commands do, so a rebuild never runs under it."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", INLINE_LOCK)


class InlineReplay(Projection):
    """A service's inline projections as one Projection over its own store, for the kernel's
    `rebuild` (the rebuild command, POST /v1/admin/rebuild, ttadmin). `exclusive_lock` makes the
    rebuild hold INLINE_LOCK throughout: commands wait (their first statement takes it shared)
    rather than project into half-refilled tables. Readers see the tables fill up again meanwhile;
    a rebuild that fails part-way is simply run again."""

    exclusive_lock = INLINE_LOCK

    def __init__(self, service: str, projections: Sequence[InlineProjection]) -> None:
        self.inline = list(projections)
        self.name = f"{service}_inline"
        self.sources = (service,)
        self.tables = tuple(t for p in self.inline for t in p.tables)

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        await self._apply(conn, [event])

    async def apply_batch(self, conn: asyncpg.Connection, items: list[Traced]) -> None:
        await self._apply(conn, [item.event for item in items])

    def lean_source(self, source: object) -> LeanSource | None:
        # Our own store, read for what the handlers see: no ids, times, metadata or envelopes.
        return source if isinstance(source, StoreSource) else None

    async def apply_lean(self, conn: asyncpg.Connection, page: DataPage) -> None:
        pending = [Pending._make(e) for e in page.events]
        for p in self.inline:
            await p.apply(conn, pending)

    async def _apply(self, conn: asyncpg.Connection, events: Sequence[Envelope]) -> None:
        pending = [Pending(e.subject, e.stream_version, e.type, e.data) for e in events]
        for p in self.inline:
            await p.apply(conn, pending)

    async def reset(self, conn: asyncpg.Connection) -> None:
        for p in self.inline:
            await p.reset(conn)
