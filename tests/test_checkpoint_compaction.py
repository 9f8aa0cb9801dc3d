"""Compact checkpoints (issue 19, migration 0012), against real PostgreSQL.

1. A checkpoint costs a fixed, small number of bytes (table and index), whatever the length of the
   stream id: the old rows carried the projection's name and the '<source>:<stream id>' text twice
   (heap and index), ~235 B each, 40 % of a service database (docs/scale.md).
2. A projection keeps checkpoints only for the streams it follows (`Projection.follows`): 1,000
   teachers registered leave no row in a projection of enrollments, which still applies its own
   streams exactly once and in order; a type it handles in a stream it does not follow is parked
   with the reason, not dropped.
3. Upgrading a database whose checkpoints are the old rows keeps every one: after 0012 nothing
   already applied applies again, nothing ahead of its predecessor applies, and the rest does.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import asyncpg

from shared.db import connect, drop_database, ensure_database, with_database
from shared.envelope import Envelope, utcnow
from shared.projection import Applier, Delivery, Outcome, Projection, checkpoint_digest, checkpoint_key
from tests.kernel import apply_kernel_migrations

# Whatever the schema calls them: 0001's table, or 0012's compact table and its projection numbers.
CHECKPOINT_RELATIONS = ("projection_checkpoints", "stream_checkpoints", "projection_ids")
STREAMS = 5_000
# 0012: 52 B of heap and 36 B of index a row, in B-tree pages ~70 % full (random keys); 0001: ~235-320.
BYTES_PER_CHECKPOINT = 125


class Recorded(Projection):
    """A projection whose read model is the list of event ids it applied, in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sources = ("enrollment",)
        self.applied: list[uuid.UUID] = []

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        self.applied.append(event.id)

    async def reset(self, conn: asyncpg.Connection) -> None:
        self.applied.clear()


def _event(stream: str, version: int) -> Envelope:
    return Envelope(uuid.uuid4(), "/enrollment", "Counted", stream, utcnow(), {"n": version}, stream_version=version)


async def _checkpoint_bytes(pool) -> int:
    return await pool.fetchval(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        " WHERE c.oid = ANY(ARRAY(SELECT to_regclass(n) FROM unnest($1::text[]) AS n)) AND c.relkind = 'r'",
        list(CHECKPOINT_RELATIONS))


async def test_a_checkpoint_costs_a_bounded_number_of_bytes_whatever_its_stream_id(pool):
    projection = Recorded(f"compaction_{uuid.uuid4().hex[:8]}_with_a_realistic_name")
    applier = Applier(projection, traced=False)
    # A few first, so the fixed cost (the first pages, the projection's number) is not counted.
    await applier.apply(pool, [Delivery(_event(f"enrollment-{uuid.uuid4()}", 1)) for _ in range(10)])
    before = await _checkpoint_bytes(pool)
    events = [_event(f"enrollment-{uuid.uuid4()}", 1) for _ in range(STREAMS)]
    for i in range(0, STREAMS, 256):
        assert set(await applier.apply(pool, [Delivery(e) for e in events[i:i + 256]])) == {Outcome.APPLIED}
    assert len(projection.applied) == STREAMS + 10
    await pool.execute("VACUUM projection_checkpoints" if await _is_table(pool, "projection_checkpoints")
                       else "VACUUM stream_checkpoints")
    grown = await _checkpoint_bytes(pool) - before
    assert grown / STREAMS <= BYTES_PER_CHECKPOINT, f"{grown / STREAMS:.0f} B a checkpoint"
    # Still one checkpoint a stream, each exact: the same events again change nothing.
    again = await applier.apply(pool, [Delivery(e) for e in events[:256]])
    assert set(again) == {Outcome.DUPLICATE} and len(projection.applied) == STREAMS + 10


class Enrollments(Recorded):
    """Follows enrollment streams only; the source also carries teachers (and their Counted)."""

    handles = frozenset({"Counted"})
    follows = frozenset({"enrollment"})


async def _rows(pool, projection: str) -> int:
    return await pool.fetchval("SELECT count(*) FROM projection_checkpoints WHERE projection = $1", projection)


async def test_streams_a_projection_does_not_follow_leave_no_checkpoint(pool):
    projection = Enrollments(f"follows_{uuid.uuid4().hex[:8]}")
    applier = Applier(projection, traced=False)
    teachers = [_event(f"teacher-{uuid.uuid4()}", 1) for _ in range(1_000)]
    teachers = [replace(e, type="TeacherRegistered") for e in teachers]
    for i in range(0, len(teachers), 256):
        assert set(await applier.apply(pool, [Delivery(e) for e in teachers[i:i + 256]])) == {Outcome.DUPLICATE}
    assert await _rows(pool, projection.name) == 0, "no checkpoint for a stream it does not follow"
    assert projection.applied == [], "nor its handler"

    # Its own streams: exactly once, in version order, as ever.
    stream = f"enrollment-{uuid.uuid4()}"
    e1, e2, e3 = (_event(stream, v) for v in (1, 2, 3))
    assert await applier.apply(pool, [Delivery(e2), Delivery(e1)]) == [Outcome.EARLY, Outcome.APPLIED]
    assert await applier.apply(pool, [Delivery(e1), Delivery(e2), Delivery(e3)]) == [
        Outcome.DUPLICATE, Outcome.APPLIED, Outcome.APPLIED]
    assert projection.applied == [e1.id, e2.id, e3.id] and await _rows(pool, projection.name) == 1

    # A type it handles in a stream it does not follow: a declaration mistake, parked with the reason.
    stray = _event(f"teacher-{uuid.uuid4()}", 1)
    assert await applier.apply(pool, [Delivery(stray)]) == [Outcome.DEAD]
    reason = await pool.fetchval("SELECT error FROM dead_letters WHERE projection = $1 AND event_id = $2",
                                 projection.name, stray.id)
    assert "'teacher' stream" in reason and "does not follow" in reason
    assert projection.applied == [e1.id, e2.id, e3.id] and await _rows(pool, projection.name) == 1


async def _is_table(pool, name: str) -> bool:
    return await pool.fetchval("SELECT relkind = 'r' FROM pg_class WHERE oid = to_regclass($1)", name) is True


async def test_old_checkpoint_rows_keep_their_meaning_after_the_upgrade(pg_server_url):
    url = with_database(pg_server_url, f"upgrade_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    conn = await connect(url)
    try:
        await apply_kernel_migrations(conn, "0011_dead_letter_ops.sql")
        s1, s2, s3 = (f"enrollment-{uuid.uuid4()}" for _ in range(3))
        old = [("upgrade_a", f"/enrollment:{s1}", 2), ("upgrade_a", f"/enrollment:{s2}", 1),
               ("upgrade_b", f"/enrollment:{s1}", 5)]
        await conn.executemany(
            "INSERT INTO projection_checkpoints (projection, stream_id, version) VALUES ($1, $2, $3)", old)

        await apply_kernel_migrations(conn, "0012_compact_checkpoints.sql", first="0012_compact_checkpoints.sql")

        kind = "SELECT relkind::text FROM pg_class WHERE oid = 'projection_checkpoints'::regclass"
        assert await conn.fetchval(kind) == "v", "the old table is a view of the compact rows now"
        carried = {tuple(r) for r in await conn.fetch("SELECT projection, stream, version FROM projection_checkpoints")}
        assert carried == {(p, checkpoint_digest(key), v) for p, key, v in old}

        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            a, b = Recorded("upgrade_a"), Recorded("upgrade_b")
            batch = [_event(s1, 1), _event(s1, 2), _event(s1, 3), _event(s2, 1), _event(s2, 3), _event(s3, 1)]
            assert checkpoint_key(batch[0]) == old[0][1]
            assert await Applier(a).apply(pool, [Delivery(e) for e in batch]) == [
                Outcome.DUPLICATE, Outcome.DUPLICATE, Outcome.APPLIED, Outcome.DUPLICATE, Outcome.EARLY,
                Outcome.APPLIED]
            assert a.applied == [batch[2].id, batch[5].id]
            assert await Applier(b).apply(pool, [Delivery(_event(s1, 5)), Delivery(e6 := _event(s1, 6))]) == [
                Outcome.DUPLICATE, Outcome.APPLIED]
            assert b.applied == [e6.id]
            # Deleting through the old name forgets one projection's checkpoints, not the other's.
            await pool.execute("DELETE FROM projection_checkpoints WHERE projection = 'upgrade_a'")
            assert await Applier(a).apply(pool, [Delivery(first := _event(s1, 1))]) == [Outcome.APPLIED]
            assert a.applied[-1] == first.id
            assert await Applier(b).apply(pool, [Delivery(_event(s1, 6))]) == [Outcome.DUPLICATE]
        finally:
            await pool.close()
    finally:
        await conn.close()
        await drop_database(url)
