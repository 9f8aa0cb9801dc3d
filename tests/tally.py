"""A minimal projection for the kernel tests: per stream, the count and sum of `Counted`
events and the ids it applied (so a double application is visible, not just a bigger sum)."""

from __future__ import annotations

import asyncpg

from shared.envelope import Envelope, NewEvent
from shared.projection import Projection


def counted(n: int) -> NewEvent:
    return NewEvent("Counted", {"n": n})


class PoisonError(RuntimeError):
    pass


class Tally(Projection):
    handles = frozenset({"Counted", "Poison"})

    def __init__(self, name: str, sources: tuple[str, ...] = ("enrollment",)) -> None:
        self.name = name
        self.sources = sources

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        if event.type == "Poison":
            raise PoisonError(f"cannot apply {event.id}")
        await conn.execute(
            """INSERT INTO tally (projection, stream_id, events, total, seen) VALUES ($1, $2, 1, $3, ARRAY[$4::uuid])
               ON CONFLICT (projection, stream_id) DO UPDATE SET events = tally.events + 1,
                 total = tally.total + EXCLUDED.total, seen = tally.seen || EXCLUDED.seen""",
            self.name, event.subject, event.data["n"], event.id,
        )

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("DELETE FROM tally WHERE projection = $1", self.name)


async def snapshot(pool: asyncpg.Pool, name: str) -> dict[str, tuple[int, int, list]]:
    rows = await pool.fetch("SELECT stream_id, events, total, seen FROM tally WHERE projection = $1", name)
    return {r["stream_id"]: (r["events"], r["total"], sorted(map(str, r["seen"]))) for r in rows}


async def applied_count(pool: asyncpg.Pool, name: str) -> int:
    return await pool.fetchval("SELECT coalesce(sum(events), 0) FROM tally WHERE projection = $1", name)


class BatchTally(Tally):
    """Tally with a set-based `apply_batch`: one statement per batch. Counts the batches it
    applied itself, so a test can tell the batch path from the one-by-one fallback."""

    def __init__(self, name: str, sources: tuple[str, ...] = ("enrollment",)) -> None:
        super().__init__(name, sources)
        self.batches = 0

    async def apply_batch(self, conn: asyncpg.Connection, items) -> None:
        events = [item.event for item in items]
        if any(e.type == "Poison" for e in events):
            raise PoisonError("a poison event in the batch")
        await conn.execute(
            """INSERT INTO tally (projection, stream_id, events, total, seen)
               SELECT $1, s, count(*), sum(n), array_agg(id ORDER BY ord)
               FROM unnest($2::text[], $3::int[], $4::uuid[]) WITH ORDINALITY AS t(s, n, id, ord) GROUP BY s
               ON CONFLICT (projection, stream_id) DO UPDATE SET events = tally.events + EXCLUDED.events,
                 total = tally.total + EXCLUDED.total, seen = tally.seen || EXCLUDED.seen""",
            self.name, [e.subject for e in events], [e.data["n"] for e in events], [e.id for e in events])
        self.batches += 1
