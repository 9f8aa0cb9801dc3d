"""Projections: read models kept from event streams, exactly once in effect.

A projection applies events and records, per source stream, the last version it applied —
in the same transaction as its read-model rows. A duplicate or redelivered event (version at
or below the checkpoint) changes nothing; an event that arrives ahead of its predecessor
(version beyond checkpoint + 1, e.g. after a nak) is handed back to be redelivered later, so
every aggregate's events apply in their recorded order.

A checkpoint row is compact (migration 0012): the projection's number, a 16-byte digest of
'<source>:<stream id>' and the version. A projection that declares the stream kinds it `follows`
keeps none for the streams of other kinds (docs/reliability.md, "Checkpoint compaction").

Each batch runs under a transaction-level advisory lock on the projection's name, so replicas
and a concurrent rebuild never apply the same event twice.

A handler that keeps failing is not allowed to stall the stream: after `max_deliveries` failures
of its handler (counted in `projection_failures`, not by NATS deliveries: an event handed back
early is delivered again without its handler running) the event goes to `dead_letters`, the
checkpoint moves past it, and later events apply. Operators replay or discard dead letters
(shared/deadletters.py).

A projection that declares what it `reads` (shared/contracts.py) has each event it wants checked
against its producer's published JSON Schema first: data of an unknown type or version, or data
that does not fit, is dead-lettered at once with the reason (redelivery would not change it) and
nothing of it is applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import NamedTuple, Protocol, TypeVar

import asyncpg
from asyncpg.pgproto.pgproto import UUID as FastUUID
from opentelemetry import trace

from . import telemetry
from .contracts import as_read, refusal
from .deadletters import NotPending, Replayed, replay
from .envelope import Envelope
from .eventstore import DataPage

log = logging.getLogger(__name__)
Page = TypeVar("Page")
_tracer = trace.get_tracer(__name__)


class Projection:
    """Subclass per read model: set `name`, `sources`, optionally `handles`; implement apply/reset.

    A projection may also implement `apply_batch(conn, items)` to apply many events with a few
    set-based statements instead of a few statements each. It receives, in order, the events
    the batch's checkpoints admit, each with the traceparent of its own apply span (for events
    it records in reaction). It must have exactly the effect of `apply` on each in turn: if it
    raises, the batch is redone event by event through `apply`, with a savepoint each.
    """

    name: str = ""
    sources: tuple[str, ...] = ()  # services whose streams this follows, e.g. ("enrollment",)
    handles: frozenset[str] | None = None  # event types it cares about; None = all
    # The stream kinds (stream id prefixes: "enrollment" of "enrollment-<uuid>") whose events it
    # applies; None = every stream. Events of other streams are settled without their handler and
    # without a checkpoint: no event of such a stream is ever applied, so none needs ordering or
    # de-duplicating. A checkpoint row per aggregate of the source was most of a service database
    # (issue 19); a projection of enrollments need not keep one for each of 500,000 teachers.
    # Widening it later needs a rebuild (the new kind's past events were never applied), as
    # handling a new type does. A type it handles arriving in a stream it does not follow is a
    # declaration mistake: dead-lettered with the reason, never dropped silently.
    follows: frozenset[str] | None = None
    tables: tuple[str, ...] = ()  # the tables it alone writes and `reset` empties (rebuild coverage)
    # Consumer contract (shared/contracts.py): event type → the data fields it reads. Declared, the
    # events it wants are validated against their producer's published schema before they apply.
    reads: Mapping[str, frozenset[str]] | None = None
    apply_batch: Callable[[asyncpg.Connection, list[Traced]], Awaitable[None]] | None = None

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        raise NotImplementedError

    async def reset(self, conn: asyncpg.Connection) -> None:
        """Empty the read model before a rebuild."""
        raise NotImplementedError

    def wants(self, event: Envelope) -> bool:
        return self.handles is None or event.type in self.handles

    def lean_source(self, source: object) -> LeanSource | None:
        """A cheaper way for this projection's rebuild to read `source`, if it has one: an inline
        replay reads only each event's stream, version, type and data (shared/inline.py)."""
        return None

    async def apply_lean(self, conn: asyncpg.Connection, page: DataPage) -> None:
        """Apply a lean page (only for projections whose `lean_source` gives one)."""
        raise NotImplementedError


class LeanSource(Protocol):
    def pages(self) -> AsyncIterator[DataPage]: ...

    async def envelopes(self, page: DataPage) -> list[Envelope]: ...


class Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # nothing to apply (already applied, or a stream not followed): ack and forget
    EARLY = "early"  # a predecessor is missing: redeliver later
    FAILED = "failed"  # handler raised: redeliver with backoff
    DEAD = "dead"  # failed too often: dead-lettered, checkpoint moved on

    @property
    def settled(self) -> bool:
        return self in (Outcome.APPLIED, Outcome.DUPLICATE, Outcome.DEAD)


class Traced(NamedTuple):
    """An event handed to `apply_batch`, with the traceparent of the span that applies it.
    (Named tuples, here and below: a rebuild makes a million of each, and a tuple is made in a
    fraction of a dataclass's time.)"""

    event: Envelope
    traceparent: str | None


class Delivery(NamedTuple):
    event: Envelope
    deliveries: int = 1
    # The relay's publish span, from the NATS headers; continues the command's trace.
    traceparent: str | None = None


class _HandlerFailed(Exception):
    pass


def checkpoint_key(event: Envelope) -> str:
    # Stream ids are unique per owner only; qualify them with the owner.
    return f"{event.source}:{event.subject}"


def checkpoint_digest(key: str) -> uuid.UUID:
    """How a checkpoint row names its stream: 16 bytes, md5 of `checkpoint_key`, the digest SQL
    spells md5(key)::uuid (migration 0012). Fixed width: a third of the bytes of the text key in
    the row and again in its index. md5 here names, it does not protect: stream ids are ours.
    Built as asyncpg's C UUID (equal and hashing alike, as PostgreSQL hands them back), in a third
    of uuid.UUID's time: every event of a batch has one, and most streams come once."""
    digest: uuid.UUID = FastUUID(hashlib.md5(key.encode(), usedforsecurity=False).digest())
    return digest


class Applier:
    def __init__(self, projection: Projection, max_deliveries: int = 5, traced: bool = True,
                 checkpoints: bool = True, retries: bool = True) -> None:
        self.projection = projection
        self.max_deliveries = max_deliveries  # handler failures before an event is dead-lettered
        # Off for a rebuild: nothing is delivered twice, so a handler's first failure is final.
        self.retries = retries
        # Live deliveries continue their command's trace; a rebuild re-applies history and
        # would only bury today's traces under a million spans of old ones.
        self.traced = traced
        # Off only for a rebuild that alone writes the tables, reading a store once in its order:
        # nothing can arrive twice or early, so there is nothing for a checkpoint to catch.
        self.checkpoints = checkpoints

    async def apply(self, pool: asyncpg.Pool, batch: Sequence[Delivery]) -> list[Outcome]:
        """Apply a batch in one transaction with its checkpoints. Raises only on infrastructure
        errors (the caller naks everything and retries)."""
        if not batch:
            return []
        try:
            # Fast path: one transaction, no savepoints. Almost every batch takes it.
            return await self._run(pool, batch, isolate=False)
        except _HandlerFailed:
            # Some handler raised: redo with a savepoint per event so one bad event does
            # not cost the others.
            return await self._run(pool, batch, isolate=True)

    async def _run(self, pool: asyncpg.Pool, batch: Sequence[Delivery], isolate: bool) -> list[Outcome]:
        name = self.projection.name
        async with pool.acquire() as conn, conn.transaction():
            # The projection's lock, then the batch's checkpoints: one round trip (migration 0007).
            keys = _digests(batch, self.projection.follows) if self.checkpoints else []
            rows = await conn.fetch("SELECT * FROM tt_projection_begin($1, $2)", name, list(set(keys) - {_NO_KEY}))
            seen: dict[uuid.UUID, int] = {r["stream"]: r["version"] for r in rows}
            moved: dict[uuid.UUID, int] = {}
            outcomes: list[Outcome] = []
            last_position = 0
            applied = 0
            progressed = False  # something applied or dead-lettered: the state row moves
            batched = self.projection.apply_batch is not None and not isolate
            admitted: list[Delivery] = []
            retried: list[uuid.UUID] = []  # applied events that may have failed before (see below)
            follows = self.projection.follows
            for i, d in enumerate(batch):
                ev = d.event
                if follows is not None and ev.category not in follows:
                    outcomes.append(await self._unfollowed(conn, d))
                    last_position = max(last_position, ev.position)
                    progressed = True
                    continue
                key = keys[i] if self.checkpoints else _NO_KEY
                at = moved.get(key, seen.get(key, 0)) if self.checkpoints else ev.stream_version - 1
                if ev.stream_version <= at:
                    outcomes.append(Outcome.DUPLICATE)
                    continue
                if ev.stream_version > at + 1:
                    outcomes.append(Outcome.EARLY)
                    continue
                if (self.projection.reads is not None and self.projection.wants(ev)
                        and (reason := refusal(ev, self.projection.reads)) is not None):
                    log.error("projection %s dead-letters %s: %s", self.projection.name, ev.id, reason)
                    outcome = await self._dead_letter(conn, d, f"contract: {reason}")  # never applied nor retried
                else:
                    if self.projection.reads is not None and (read := as_read(ev, self.projection.reads)) is not ev:
                        d = d._replace(event=read)  # integers as ints (shared/contracts.py)
                    if batched:  # applied below, all at once; a failure redoes the batch one by one
                        admitted.append(d)
                        outcome = Outcome.APPLIED
                    else:
                        outcome = await self._apply_one(conn, d, isolate)
                outcomes.append(outcome)
                if outcome in (Outcome.APPLIED, Outcome.DEAD):
                    if self.checkpoints:
                        moved[key] = ev.stream_version
                    last_position = max(last_position, ev.position)
                    applied += outcome is Outcome.APPLIED
                    progressed = True
                    # A failure is only ever counted on a delivery that was then handed back, so
                    # only a redelivered event can have a count to clear: first deliveries, almost
                    # all of them, cost no statement.
                    if outcome is Outcome.APPLIED and d.deliveries > 1 and self.retries:
                        retried.append(ev.id)
            if admitted:
                await self._apply_all(conn, admitted)
            if retried:
                await conn.execute("DELETE FROM projection_failures WHERE projection = $1 AND event_id = ANY($2)",
                                   name, retried)
            if progressed:
                await self._progress(conn, moved, last_position, applied, seen)
            return outcomes

    async def _unfollowed(self, conn: asyncpg.Connection, d: Delivery) -> Outcome:
        """An event of a stream the projection does not follow: nothing to apply, and no checkpoint
        for its stream, so every delivery of it is alike: a duplicate (the state row still moves
        past it)."""
        if not self.projection.wants(d.event):
            return Outcome.DUPLICATE
        reason = (f"follows: {d.event.type} arrived in a {d.event.category!r} stream, which the projection"
                  " does not follow")
        log.error("projection %s dead-letters %s: %s", self.projection.name, d.event.id, reason)
        return await self._dead_letter(conn, d, reason)

    async def _progress(self, conn: asyncpg.Connection, moved: dict[uuid.UUID, int], last_position: int,
                        applied: int, seen: dict[uuid.UUID, int] | None = None) -> None:
        """The checkpoints moved and the state row, in one statement. Under the projection's lock
        nothing else writes its checkpoints, so those `seen` (read at the batch's start) are
        updated and the others plainly inserted: a new stream's checkpoint then costs PostgreSQL
        about half of what INSERT … ON CONFLICT does (its speculative insertion). Should one have
        appeared anyway, the unique key fails the batch: it is nak'ed, comes back and reads afresh."""
        known = seen or {}
        new = [k for k in moved if k not in known]
        old = [k for k in moved if k in known]
        await conn.execute(
            """WITH p AS (SELECT tt_projection_id($1) AS id),
               inserted AS (
                 INSERT INTO stream_checkpoints (projection, stream, version)
                 SELECT p.id, k, v FROM p, unnest($2::uuid[], $3::int[]) AS t(k, v)),
               updated AS (
                 UPDATE stream_checkpoints c SET version = t.v
                 FROM p, unnest($4::uuid[], $5::int[]) AS t(k, v)
                 WHERE c.projection = p.id AND c.stream = t.k)
               INSERT INTO projection_state (projection, last_position, applied, updated_at)
               VALUES ($1, $6, $7, now())
               ON CONFLICT (projection) DO UPDATE SET
                 last_position = greatest(projection_state.last_position, EXCLUDED.last_position),
                 applied = projection_state.applied + EXCLUDED.applied, updated_at = now()""",
            self.projection.name, new, [moved[k] for k in new], old, [moved[k] for k in old], last_position,
            applied,
        )

    async def apply_lean(self, pool: asyncpg.Pool, page: DataPage, source: LeanSource) -> None:
        """A rebuild's lean page (no checkpoints: see `rebuild`) in one transaction. Should a
        handler fail, the page goes again the ordinary way — in full, a savepoint per event, dead
        letters — so a lean rebuild ends as the ordinary one would."""
        if not page.events:
            return
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", self.projection.name)
                await self.projection.apply_lean(conn, page)
                await self._progress(conn, {}, page.last_position, len(page.events))
            return
        except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
            raise
        except Exception as exc:
            log.info("projection %s: lean page failed (%s); redoing it event by event", self.projection.name, exc)
        await self.apply(pool, [Delivery(e, self.max_deliveries) for e in await source.envelopes(page)])

    async def _apply_all(self, conn: asyncpg.Connection, admitted: list[Delivery]) -> None:
        """The batch path: one span per event as on the one-by-one path, one apply_batch call.
        While nothing exports spans (telemetry.exporting) a span would record nothing: then none
        is made, and each event carries its delivery's trace context on, as an unrecorded span would."""
        wanted = [d for d in admitted if self.projection.wants(d.event)]
        recording = self.traced and telemetry.exporting()
        spans = [_tracer.start_span(
            f"apply {self.projection.name} {d.event.type}", kind=trace.SpanKind.CONSUMER,
            context=telemetry.context_from_traceparent(d.traceparent or d.event.traceparent))
            for d in wanted] if recording else []
        try:
            if recording:
                items = [Traced(d.event, _traceparent_of(span)) for d, span in zip(wanted, spans, strict=True)]
            elif self.traced:
                items = [Traced(d.event, telemetry.normalized_traceparent(d.traceparent or d.event.traceparent))
                         for d in wanted]
            else:
                items = [Traced(d.event, None) for d in wanted]
            batch_apply = self.projection.apply_batch
            if items and batch_apply is not None:
                await batch_apply(conn, items)
        except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
            raise
        except Exception as exc:
            log.info("projection %s: batch apply failed (%s); redoing event by event", self.projection.name, exc)
            raise _HandlerFailed() from exc
        finally:
            for span in spans:
                span.end()

    async def _apply_one(self, conn: asyncpg.Connection, d: Delivery, isolate: bool) -> Outcome:
        if not self.projection.wants(d.event):
            return Outcome.APPLIED  # not ours to model, but the checkpoint still moves past it
        if not self.traced:
            return await self._apply_traced(conn, d, isolate)
        # Each applied event continues the trace of the command that recorded it.
        with _tracer.start_as_current_span(
            f"apply {self.projection.name} {d.event.type}", kind=trace.SpanKind.CONSUMER,
            context=telemetry.context_from_traceparent(d.traceparent or d.event.traceparent),
        ):
            return await self._apply_traced(conn, d, isolate)

    async def _apply_traced(self, conn: asyncpg.Connection, d: Delivery, isolate: bool) -> Outcome:
        if not isolate:
            try:
                await self.projection.apply(conn, d.event)
            except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
                raise
            except Exception as exc:
                raise _HandlerFailed() from exc
            return Outcome.APPLIED
        try:
            async with conn.transaction():  # savepoint
                await self.projection.apply(conn, d.event)
            return Outcome.APPLIED
        except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            failures = 1
            if self.retries:
                # In the batch's own transaction, after the savepoint rolled back: the count
                # commits with the batch (and with it the nak that sends the event back).
                failures = await conn.fetchval(
                    """INSERT INTO projection_failures AS f (projection, event_id, failures, last_error)
                       VALUES ($1, $2, 1, $3)
                       ON CONFLICT (projection, event_id) DO UPDATE
                         SET failures = f.failures + 1, last_error = EXCLUDED.last_error, updated_at = now()
                       RETURNING failures""",
                    self.projection.name, d.event.id, error)
                if failures < self.max_deliveries:
                    log.warning("projection %s failed on %s (failure %d, delivery %d): %s",
                                self.projection.name, d.event.id, failures, d.deliveries, exc)
                    return Outcome.FAILED
                await conn.execute("DELETE FROM projection_failures WHERE projection = $1 AND event_id = $2",
                                   self.projection.name, d.event.id)
            log.error("projection %s dead-letters %s after %d failures (%d deliveries): %s",
                      self.projection.name, d.event.id, failures, d.deliveries, exc)
            return await self._dead_letter(conn, d, error, failures)

    async def _dead_letter(self, conn: asyncpg.Connection, d: Delivery, error: str, failures: int = 0) -> Outcome:
        # At most one pending dead letter per event (a partial unique index, migration 0011).
        await conn.execute(
            """INSERT INTO dead_letters (projection, event_id, stream_id, version, type, envelope,
                                         error, deliveries, failures)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (projection, event_id) WHERE replayed_at IS NULL AND discarded_at IS NULL
               DO NOTHING""",
            self.projection.name, d.event.id, checkpoint_key(d.event), d.event.stream_version,
            d.event.type, d.event.to_cloudevent(), error[:2000], d.deliveries, failures,
        )
        return Outcome.DEAD


_NO_KEY = uuid.UUID(int=0)  # a batch without checkpoints (see Applier.checkpoints) looks none up


def _digests(batch: Sequence[Delivery], follows: frozenset[str] | None) -> list[uuid.UUID]:
    """Each delivery's checkpoint digest (_NO_KEY for a stream not followed); a batch's events
    mostly come a few to a stream, so each key is hashed once."""
    memo: dict[str, uuid.UUID] = {}
    out: list[uuid.UUID] = []
    for d in batch:
        if follows is not None and d.event.category not in follows:
            out.append(_NO_KEY)
            continue
        key = checkpoint_key(d.event)
        digest = memo.get(key)
        if digest is None:
            digest = memo[key] = checkpoint_digest(key)
        out.append(digest)
    return out


def _traceparent_of(span: trace.Span) -> str | None:
    with trace.use_span(span, end_on_exit=False):
        return telemetry.current_traceparent()


async def rebuild(
    pool: asyncpg.Pool, projection: Projection, source: AsyncIterable[list[Envelope]], max_deliveries: int = 5,
) -> int:
    """Reset the read model and re-apply every event from `source` (a feed or a stream).

    Events the live consumer applies meanwhile are serialised by the projection lock and
    deduplicated by the checkpoints, so a rebuild can run while the service is live. A projection
    that commands write in their own transaction (shared/inline.py) names an `exclusive_lock`
    instead: the rebuild holds it for its whole run, nothing else writes its tables meanwhile, and
    it reads its own store once in order — so it keeps no checkpoints at all. Such a projection may
    also read its source lean (`lean_source`: an inline replay of its own store reads only each
    event's stream, version, type and data); a page that fails goes again the ordinary way.
    Returns the number of events read.
    """
    exclusive: int | None = getattr(projection, "exclusive_lock", None)
    async with contextlib.AsyncExitStack() as stack:
        if exclusive is not None:
            holder = await stack.enter_async_context(pool.acquire())
            await holder.execute("SELECT pg_advisory_lock($1)", exclusive)
            stack.push_async_callback(holder.execute, "SELECT pg_advisory_unlock($1)", exclusive)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", projection.name)
            await projection.reset(conn)
            await _forget(conn, projection.name)
        applier = Applier(projection, max_deliveries, traced=False, checkpoints=exclusive is None, retries=False)
        total = 0
        lean = projection.lean_source(source) if exclusive is not None else None
        if lean is not None:
            async for page in _read_ahead(lean.pages()):
                await applier.apply_lean(pool, page, lean)
                total += len(page.events)
            return total
        async for events in _read_ahead(source):
            # A rebuild has no second delivery: a failing handler dead-letters at once.
            await applier.apply(pool, [Delivery(e, max_deliveries) for e in events])
            total += len(events)
        return total


async def _read_ahead(source: AsyncIterable[Page]) -> AsyncIterator[Page]:
    """`source`, with its next page already being read (on its own connection or request) while
    the caller applies the current one: reading and writing overlap instead of taking turns."""
    pages: asyncio.Queue[Page | BaseException | None] = asyncio.Queue(maxsize=1)

    async def read() -> None:
        try:
            async for page in source:
                await pages.put(page)
            await pages.put(None)
        except Exception as exc:  # handed to the reader, raised there
            await pages.put(exc)

    reader = asyncio.ensure_future(read())
    try:
        while (page := await pages.get()) is not None:
            if isinstance(page, BaseException):
                raise page
            yield page
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


async def _forget(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute(
        "DELETE FROM stream_checkpoints WHERE projection = (SELECT id FROM projection_ids WHERE name = $1)", name)
    await conn.execute("DELETE FROM projection_state WHERE projection = $1", name)
    await conn.execute("DELETE FROM projection_failures WHERE projection = $1", name)
    # Pending dead letters only: the rebuild parks again what still fails. Replayed and discarded
    # ones are the record of what operators did, and stay.
    await conn.execute(
        "DELETE FROM dead_letters WHERE projection = $1 AND replayed_at IS NULL AND discarded_at IS NULL", name)


async def replay_dead_letter(pool: asyncpg.Pool, projection: Projection, dead_letter_id: int) -> bool:
    """Apply a dead-lettered event again (after the handler or data was fixed): True if it was
    pending and is settled now, False if it was not pending. Raises what the handler still raises
    (nothing changed). `shared.deadletters.replay` says more: applied or already applied."""
    try:
        done = await replay(pool, projection, dead_letter_id)
    except NotPending:
        return False
    if done.outcome is Replayed.STILL_FAILING:
        raise done.error or RuntimeError(done.detail)
    return True
