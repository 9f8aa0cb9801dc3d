"""What `ttadmin` does, without the terminal: each function reads or changes one service's
database (and NATS where lag is concerned) and returns plain data for the CLI to print.

Nothing here pauses the service: a rebuild or a replay runs in this process against the
service's database under the same per-projection advisory lock the live consumers take
(shared/projection.py), so the two serialise batch by batch and the checkpoints drop whatever
both deliver. That is what the services' own POST /v1/admin/rebuild does too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from nats.js.errors import NotFoundError

from shared import deadletters
from shared.bus import Bus, BusNames
from shared.consumer import stream_source
from shared.db import create_pool
from shared.deadletters import Replay, Replayed
from shared.envelope import Envelope
from shared.eventstore import EventStore, restored_events_pending
from shared.feed import feed_source, store_source
from shared.projection import rebuild
from shared.relay import RELAY_LOCK
from shared.service import ServiceSpec

from .targets import Entry, TargetError

CONNECT_TIMEOUT_S = 10.0
SOURCES = ("auto", "store", "stream", "feed")


@contextlib.asynccontextmanager
async def open_pool(url: str) -> AsyncIterator[asyncpg.Pool]:
    try:
        pool = await asyncio.wait_for(create_pool(url, min_size=1, max_size=4), CONNECT_TIMEOUT_S)
    except asyncpg.InvalidCatalogNameError as exc:
        raise TargetError(f"{exc} (is --database-url right?)") from None
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise TargetError(f"cannot reach the database: {type(exc).__name__}: {exc}") from None
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def open_bus(url: str, timeout: float = CONNECT_TIMEOUT_S) -> AsyncIterator[Bus | None]:
    """A connected Bus, or None when NATS does not answer within `timeout`."""
    bus = Bus(url, "ttadmin")
    bus.start()
    try:
        yield bus if await bus.wait_connected(timeout) else None
    finally:
        await bus.close()


# ---------------------------------------------------------------- projections


async def consumer_lag(bus: Bus | None, names: BusNames, projection: str, source: str) -> dict[str, Any]:
    """The durable consumer's backlog, as the service's consumer reports it (tt_projection_lag):
    messages not yet delivered plus delivered but not yet acknowledged."""
    if bus is None:
        return {"lag": None, "lag_note": "NATS unreachable"}
    try:
        info = await bus.js().consumer_info(names.stream(source), names.consumer(projection), timeout=5)
    except NotFoundError:
        return {"lag": None, "lag_note": "no durable consumer (service never started?)"}
    except Exception as exc:  # noqa: BLE001 - anything NATS says is a note on this row, not a crash
        return {"lag": None, "lag_note": f"{type(exc).__name__}: {exc}"}
    pending, in_flight = int(info.num_pending or 0), int(info.num_ack_pending or 0)
    return {"lag": pending + in_flight, "pending": pending, "in_flight": in_flight,
            "redelivered": int(info.num_redelivered or 0), "lag_note": ""}


async def projection_status(pool: asyncpg.Pool, bus: Bus | None, names: BusNames, service: str,
                            entries: dict[str, Entry]) -> list[dict[str, Any]]:
    """One row per (projection, source) the service's code defines, plus any projection the
    database has state for that the code does not know (a renamed or removed projection)."""
    async with pool.acquire() as conn:
        state = {r["projection"]: r for r in await conn.fetch(
            "SELECT projection, last_position, applied, updated_at, now() - updated_at AS age FROM projection_state")}
        dead = dict(await conn.fetch(
            f"SELECT projection, count(*) FROM dead_letters WHERE {deadletters.PENDING} GROUP BY projection"))
    rows = []

    def base(name: str, kind: str, source: str) -> dict[str, Any]:
        st = state.get(name)
        return {"service": service, "projection": name, "kind": kind, "source": source,
                "last_position": st["last_position"] if st else 0, "applied": st["applied"] if st else 0,
                "updated_at": st["updated_at"] if st else None,
                "idle_seconds": round(st["age"].total_seconds(), 1) if st else None,
                "dead_letters": dead.get(name, 0)}

    for entry in entries.values():
        if entry.live:
            for source in entry.projection.sources:
                rows.append({**base(entry.name, "consumer", source),
                             **await consumer_lag(bus, names, entry.name, source)})
        else:
            rows.append({**base(entry.name, "inline", ",".join(entry.projection.sources)),
                         "lag": None, "lag_note": "inline: applied in the command's transaction"})
    for name in sorted(set(state) - set(entries)):
        rows.append({**base(name, "unknown", "?"), "lag": None, "lag_note": "not defined by this service's code"})
    return rows


# ---------------------------------------------------------------- outbox


async def outbox_status(pool: asyncpg.Pool, service: str) -> dict[str, Any]:
    """Depth and age of the outbox (what tt_outbox_depth / tt_outbox_oldest_age_seconds show), and
    whether a relay holds the leader lock (shared/relay.py) on this database."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT n AS depth, oldest_position, extract(epoch FROM now() - oldest)::float8 AS oldest_age
               FROM tt_outbox_backlog()""")
        leader = await conn.fetchrow(
            """SELECT a.pid, a.application_name, host(a.client_addr) AS client, a.backend_start
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1
                 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())""",
            RELAY_LOCK >> 32, RELAY_LOCK & 0xFFFF_FFFF)
    return {"service": service, "depth": row["depth"], "oldest_position": row["oldest_position"],
            "oldest_age_seconds": round(row["oldest_age"], 1) if row["oldest_age"] is not None else None,
            "relay_leader": dict(leader) if leader else None}


# ---------------------------------------------------------------- dead letters

_DL_COLUMNS = ("id, projection, event_id, stream_id, version, type, error, deliveries, failures, recorded_at, "
               "replayed_at, replay_result, discarded_at, discarded_by, discard_reason, "
               "CASE WHEN replayed_at IS NOT NULL THEN 'replayed' WHEN discarded_at IS NOT NULL THEN 'discarded' "
               "ELSE 'pending' END AS state")
STATES = ("pending", "replayed", "discarded", "all")


async def dead_letters(pool: asyncpg.Pool, projection: str | None = None, state: str = "pending",
                       limit: int = 100) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"""SELECT * FROM (SELECT {_DL_COLUMNS} FROM dead_letters) d
            WHERE ($1::text IS NULL OR projection = $1) AND ($2 = 'all' OR state = $2)
            ORDER BY id LIMIT $3""",
        projection, state, limit)
    return [dict(r) for r in rows]


async def dead_letter(pool: asyncpg.Pool, dead_letter_id: int) -> dict[str, Any] | None:
    row = await pool.fetchrow(f"SELECT {_DL_COLUMNS}, envelope FROM dead_letters WHERE id = $1", dead_letter_id)
    return dict(row) if row else None


@dataclass
class ReplayResult:
    id: int
    projection: str | None
    outcome: str  # applied | already_applied | still_failing | not_pending
    detail: str
    stream_id: str | None = None
    version: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Replayed.APPLIED.value, Replayed.ALREADY_APPLIED.value)


def _result(r: Replay) -> ReplayResult:
    return ReplayResult(r.id, r.projection, r.outcome.value, r.detail, r.stream_id, r.version)


async def replay(pool: asyncpg.Pool, entries: dict[str, Entry], ids: Sequence[int],
                 progress: Callable[[ReplayResult], None] | None = None) -> list[ReplayResult]:
    """Replay each dead letter by id, in the order given (shared/deadletters.py says what each
    outcome means). One that is not pending, or whose projection this code does not define, is
    reported `not_pending` and left alone."""
    out = []
    for dl_id in ids:
        row = await pool.fetchrow("SELECT projection FROM dead_letters WHERE id = $1", dl_id)
        entry = entries.get(row["projection"]) if row else None
        if row is None:
            result = ReplayResult(dl_id, None, "not_pending", "no such dead letter")
        elif entry is None:
            result = ReplayResult(dl_id, row["projection"], "not_pending",
                                  "projection not defined by this service's code")
        else:
            try:
                result = _result(await deadletters.replay(pool, entry.projection, dl_id))
            except deadletters.NotPending as exc:
                result = ReplayResult(dl_id, row["projection"], "not_pending", str(exc))
        out.append(result)
        if progress is not None:
            progress(result)
    return out


async def replay_streams(pool: asyncpg.Pool, entries: dict[str, Entry], projection: str | None,
                         stream_id: str | None, progress: Callable[[ReplayResult], None] | None = None
                         ) -> list[ReplayResult]:
    """Every pending dead letter (of `projection`, of `stream_id`), stream by stream, each stream's
    in version order; a stream's dead letters after one that still fails are held back."""
    out = []
    for _projection, _stream, ids in await deadletters.pending_streams(pool, projection, stream_id):
        out += await replay(pool, entries, ids, progress)
    return out


async def pending_count(pool: asyncpg.Pool, projection: str | None, stream_id: str | None) -> int:
    return sum(len(ids) for _, _, ids in await deadletters.pending_streams(pool, projection, stream_id))


# ---------------------------------------------------------------- rebuild


@dataclass
class SourcePlan:
    service: str  # whose events
    kind: str  # store | stream | feed
    total: int | None = None  # events it holds now, when that can be known up front

    @property
    def label(self) -> str:
        return f"{self.service} {self.kind}"


@dataclass
class RebuildContext:
    spec: ServiceSpec
    pool: asyncpg.Pool
    names: BusNames
    bus: Bus | None = None
    feed_urls: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    batch: int = 500


def plan_sources(spec: ServiceSpec, entry: Entry, choice: str) -> list[SourcePlan]:
    """Where each of the projection's sources is read from. `auto` follows the services' own
    rebuilds: the service's own events from its store, other services' from their feeds."""
    if choice not in SOURCES:
        raise TargetError(f"--source must be one of {', '.join(SOURCES)}", usage=True)
    plans = []
    for source in entry.projection.sources:
        kind = choice if choice != "auto" else ("store" if source == spec.name else "feed")
        if kind == "store" and source != spec.name:
            raise TargetError(f"{entry.name} follows {source}, whose store is another database: "
                              f"use --source feed (the record) or --source stream", usage=True)
        plans.append(SourcePlan(source, kind))
    return plans


async def count_totals(ctx: RebuildContext, plans: list[SourcePlan]) -> None:
    for plan in plans:
        if plan.kind == "store":
            async with ctx.pool.acquire() as conn:
                if await restored_events_pending(conn):  # a read now would miss them: refuse, say why
                    raise TargetError(f"{ctx.spec.name}'s store was restored from another server and its events are "
                                      f"not renumbered yet: start the service or run `python -m shared.migrate "
                                      f"{ctx.spec.name}` first (docs/operations.md, Restoring from a backup)")
            plan.total = await ctx.pool.fetchval("SELECT count(*) FROM events")
        elif plan.kind == "stream" and ctx.bus is not None:
            info = await ctx.bus.js().stream_info(ctx.names.stream(plan.service))
            plan.total = int(info.state.messages)
        # A feed does not say how long it is: the progress shows a count without a total.


def _open(ctx: RebuildContext, plan: SourcePlan) -> AsyncIterable[list[Envelope]]:
    if plan.kind == "store":
        return store_source(ctx.pool, EventStore(ctx.spec.name, ctx.spec.registry), limit=ctx.batch)
    if plan.kind == "stream":
        if ctx.bus is None:
            raise TargetError("NATS is unreachable: cannot read the stream (use --source feed or store)")
        return stream_source(ctx.bus, ctx.names, plan.service, batch=ctx.batch)
    if not ctx.token:
        raise TargetError("reading a feed needs a service token")
    return feed_source(ctx.feed_urls[plan.service], ctx.token, limit=min(ctx.batch, 5000))


@dataclass
class RebuildResult:
    projection: str
    sources: list[dict[str, Any]]
    events: int
    applied: int
    dead_letters: int
    seconds: float


async def run_rebuild(ctx: RebuildContext, entry: Entry, plans: list[SourcePlan], max_deliveries: int,
                      on_source: Callable[[SourcePlan], None] = lambda p: None,
                      on_batch: Callable[[int], None] = lambda n: None) -> RebuildResult:
    """shared.projection.rebuild over the planned sources in turn (one reset for all of them).
    `on_batch` is called after each batch has been applied: rebuild() asks for the next batch
    only once it has applied the one before."""
    read: dict[int, int] = {}

    async def chain() -> AsyncIterator[list[Envelope]]:
        for i, plan in enumerate(plans):
            on_source(plan)
            read[i] = 0
            async for batch in _open(ctx, plan):
                yield batch
                read[i] += len(batch)
                on_batch(len(batch))

    started = time.monotonic()
    events = await rebuild(ctx.pool, entry.projection, chain(), max_deliveries)
    seconds = time.monotonic() - started
    async with ctx.pool.acquire() as conn:
        applied = await conn.fetchval(
            "SELECT coalesce((SELECT applied FROM projection_state WHERE projection = $1), 0)", entry.name)
        dead = await conn.fetchval(
            f"SELECT count(*) FROM dead_letters WHERE projection = $1 AND {deadletters.PENDING}", entry.name)
    return RebuildResult(entry.name, [{"service": p.service, "kind": p.kind, "read": read.get(i, 0)}
                                      for i, p in enumerate(plans)], events, applied, dead, round(seconds, 3))
