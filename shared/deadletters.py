"""Dead letters for operators: replay (one, or a stream's in version order) and discard.

A projection parks an event its handler keeps failing on (shared/projection.py) and moves its
checkpoint past it, so later events apply. Each dead letter ends one of two ways, and stays as
a record either way: replayed, or discarded by an operator with a reason.

Replaying reports exactly one of:

- `applied`: the handler ran and changed the read model; the dead letter is marked replayed.
- `already_applied`: the handler ran and changed nothing: the projection's own version guard
  (a later version of the aggregate is already in the read model) or idempotence covers it. The
  checkpoint cannot tell this: parking moved it past the event, so it is at or beyond the event's
  version for every dead letter. What tells is the handler's writes, measured in its transaction
  (`pg_stat_xact_user_tables`: rows it inserted, updated or deleted, counted even when a
  statement matched nothing). The dead letter is marked replayed, with this result.
- `still_failing`: the handler raised (its savepoint rolled back), or an earlier dead letter of
  the same stream and projection is still pending, so this one is held back to keep the stream's
  version order. Nothing changed; the dead letter stays pending with its error.

Each replay is one transaction under the projection's advisory lock, as a live batch is.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg

from .contracts import as_read, refusal
from .envelope import Envelope

if TYPE_CHECKING:
    from .projection import Projection

PENDING = "replayed_at IS NULL AND discarded_at IS NULL"
# Rows the transaction wrote so far (never reset inside a transaction: pending statistics are
# flushed only between transactions); the difference around the handler is what it wrote.
_WRITES = "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_xact_user_tables"


class Replayed(enum.Enum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"
    STILL_FAILING = "still_failing"


class NotPending(Exception):
    """No such dead letter (of that projection), or it was replayed or discarded already."""


@dataclass(frozen=True)
class Replay:
    id: int
    projection: str
    stream_id: str
    version: int
    outcome: Replayed
    detail: str
    error: Exception | None = None  # the handler's, when it still fails

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "projection": self.projection, "stream_id": self.stream_id,
                "version": self.version, "outcome": self.outcome.value, "detail": self.detail}


def _not_pending(row: asyncpg.Record) -> str:
    if row["replayed_at"] is not None:
        return f"already replayed at {row['replayed_at']:%Y-%m-%d %H:%M:%S%z} ({row['replay_result']})"
    return (f"discarded at {row['discarded_at']:%Y-%m-%d %H:%M:%S%z} by {row['discarded_by']}: "
            f"{row['discard_reason']}")


async def replay(pool: asyncpg.Pool, projection: Projection, dead_letter_id: int) -> Replay:
    """Apply one dead letter again with the projection's current code. Raises NotPending."""
    name = projection.name
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", name)
        row = await conn.fetchrow(
            """SELECT id, stream_id, version, envelope, replayed_at, replay_result, discarded_at, discarded_by,
                      discard_reason FROM dead_letters WHERE id = $1 AND projection = $2 FOR UPDATE""",
            dead_letter_id, name)
        if row is None:
            raise NotPending(f"no dead letter {dead_letter_id} of projection {name}")
        if row["replayed_at"] is not None or row["discarded_at"] is not None:
            raise NotPending(_not_pending(row))

        def report(outcome: Replayed, detail: str, error: Exception | None = None) -> Replay:
            return Replay(dead_letter_id, name, row["stream_id"], row["version"], outcome, detail, error)

        earlier = await conn.fetchrow(
            f"""SELECT id, version FROM dead_letters WHERE projection = $1 AND stream_id = $2 AND version < $3
                AND {PENDING} ORDER BY version LIMIT 1""", name, row["stream_id"], row["version"])
        if earlier is not None:
            return report(Replayed.STILL_FAILING, f"held back: dead letter {earlier['id']} (version "
                                                  f"{earlier['version']}) of this stream is still pending")
        event = Envelope.from_cloudevent(row["envelope"])
        reads = projection.reads
        if reads is not None and projection.wants(event) and (reason := refusal(event, reads)) is not None:
            broken = ValueError(f"dead letter {dead_letter_id} still breaks {name}'s contract: {reason}")
            return report(Replayed.STILL_FAILING, str(broken), broken)  # nothing is run (shared/contracts.py)
        if reads is not None:
            event = as_read(event, reads)  # integers as ints, as a live delivery is applied
        counting = await conn.fetchval("SELECT current_setting('track_counts')::bool")
        before = await conn.fetchval(_WRITES)
        try:
            async with conn.transaction():  # savepoint: a failing handler leaves nothing behind
                await projection.apply(conn, event)
        except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
            raise
        except Exception as exc:
            return report(Replayed.STILL_FAILING, f"handler failed again: {type(exc).__name__}: {exc}", exc)
        # With track_counts off nothing is counted: then assume the handler did its work.
        wrote = not counting or await conn.fetchval(_WRITES) > before
        outcome = Replayed.APPLIED if wrote else Replayed.ALREADY_APPLIED
        await conn.execute("UPDATE dead_letters SET replayed_at = now(), replay_result = $2 WHERE id = $1",
                           dead_letter_id, outcome.value)
        return report(outcome, "applied" if wrote else "already applied: the handler changed nothing")


async def replay_stream(pool: asyncpg.Pool, projection: Projection, stream_id: str) -> list[Replay]:
    """The stream's pending dead letters of `projection`, replayed in version order. Once one
    still fails, those after it are held back (reported still failing, not run)."""
    out = []
    for dl_id in await pending_ids(pool, projection.name, stream_id):
        try:
            out.append(await replay(pool, projection, dl_id))
        except NotPending:  # replayed or discarded meanwhile by someone else
            continue
    return out


async def pending_ids(pool: asyncpg.Pool, projection: str, stream_id: str) -> list[int]:
    return [r["id"] for r in await pool.fetch(
        f"SELECT id FROM dead_letters WHERE projection = $1 AND stream_id = $2 AND {PENDING} ORDER BY version",
        projection, stream_id)]


async def pending_streams(pool: asyncpg.Pool, projection: str | None = None,
                          stream_id: str | None = None) -> list[tuple[str, str, list[int]]]:
    """(projection, stream, ids in version order) of every stream with pending dead letters,
    the stream parked first coming first."""
    rows = await pool.fetch(
        f"""SELECT projection, stream_id, array_agg(id ORDER BY version) AS ids FROM dead_letters
            WHERE {PENDING} AND ($1::text IS NULL OR projection = $1) AND ($2::text IS NULL OR stream_id = $2)
            GROUP BY projection, stream_id ORDER BY min(id)""", projection, stream_id)
    return [(r["projection"], r["stream_id"], list(r["ids"])) for r in rows]


async def discard(pool: asyncpg.Pool, dead_letter_id: int, reason: str, by: str) -> dict[str, Any]:
    """Settle a pending dead letter without applying it, saying who and why; the row stays.
    Raises ValueError for a blank reason or operator, NotPending if it is not pending."""
    reason, by = reason.strip(), by.strip()
    if not reason:
        raise ValueError("a reason is required")
    if not by:
        raise ValueError("the operator's identity is required")
    # A replay holds the row (FOR UPDATE) while it runs: this waits for it, then finds it replayed.
    row = await pool.fetchrow(
        f"""UPDATE dead_letters SET discarded_at = now(), discarded_by = $2, discard_reason = $3
            WHERE id = $1 AND {PENDING}
            RETURNING id, projection, stream_id, version, discarded_at, discarded_by, discard_reason""",
        dead_letter_id, by, reason)
    if row is not None:
        return dict(row)
    row = await pool.fetchrow(
        "SELECT replayed_at, replay_result, discarded_at, discarded_by, discard_reason FROM dead_letters WHERE id = $1",
        dead_letter_id)
    raise NotPending(f"no dead letter {dead_letter_id}" if row is None else _not_pending(row))
