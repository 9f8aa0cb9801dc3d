"""A store restored from a logical backup into another PostgreSQL server carries transaction ids
that server has not handed out yet (shared/eventstore.py, "A store restored into another
server"). Its own module: the test rewrites every event's `tx`, as pg_restore leaves them.
tests/test_backup_restore.py restores real pg_dump archives into a fresh instance."""

from __future__ import annotations

import uuid

import asyncpg

from shared.envelope import Metadata, NewEvent
from shared.eventstore import NO_STREAM, START, EventStore, adopt_restored_events
from tests.tally import counted

store = EventStore("enrollment")
FOREIGN = 10**12  # far beyond this test server's transaction ids


async def append(pool: asyncpg.Pool, stream: str, expected: int, *events: NewEvent):
    async with pool.acquire() as conn, conn.transaction():
        return await store.append(conn, stream, expected, list(events), Metadata(actor={"sub": "t"}))


async def outbox(conn: asyncpg.Connection) -> list[int]:
    return [r[0] for r in await conn.fetch("SELECT position FROM outbox ORDER BY position")]


async def test_events_restored_from_another_server_are_renumbered_into_this_servers_order(pool):
    a = await append(pool, f"project-{uuid.uuid4()}", NO_STREAM, counted(1), counted(2))
    late = await append(pool, f"project-{uuid.uuid4()}", NO_STREAM, counted(3))
    early = await append(pool, f"project-{uuid.uuid4()}", NO_STREAM, counted(4))
    positions = [e.position for e in (*a, *late, *early)]
    async with pool.acquire() as conn:
        # On the old server `late` drew its position before `early` but committed after it, so the
        # relay had published `early` and not yet `late` when the backup was taken.
        await conn.execute("UPDATE events SET tx = ($1::bigint + position)::text::xid8", FOREIGN)
        await conn.execute("UPDATE events SET tx = ($1::bigint + $2)::text::xid8 WHERE position = $3",
                           FOREIGN, positions[-1] + 1, late[0].position)
        await conn.execute("UPDATE relay_cursor SET tx = e.tx, position = e.position FROM events e "
                           "WHERE e.position = $1", early[0].position)
        assert await outbox(conn) == [late[0].position]
    # What a fresh instance does with them unless renumbered: its horizon hides every one, and
    # what it appends itself sorts before them, behind the relay's cursor: never published.
    stray = await append(pool, f"project-{uuid.uuid4()}", NO_STREAM, counted(5))
    async with pool.acquire() as conn:
        assert [e.id for e in (await store.read_after(conn, START, 100)).events] == [stray[0].id]
        assert await outbox(conn) == [late[0].position]

        assert await adopt_restored_events(conn) == 5
        assert await adopt_restored_events(conn) == 0, "once only: the ids are this server's now"
        page = await store.read_after(conn, START, 100)
        assert [e.position for e in page.events] == [*positions, stray[0].position], "every event, by position"
        # Nothing unpublished is skipped; `early`, published already, goes again (JetStream's
        # duplicate window and the projections' checkpoints drop the copy).
        assert await outbox(conn) == [late[0].position, early[0].position, stray[0].position]

    new = await append(pool, f"project-{uuid.uuid4()}", NO_STREAM, counted(6))
    async with pool.acquire() as conn:
        assert [e.id for e in (await store.read_after(conn, page.next, 100)).events] == [new[0].id], \
            "what this server appends comes after every restored event"
        assert await outbox(conn) == [late[0].position, early[0].position, stray[0].position, new[0].position]
        assert await adopt_restored_events(conn) == 0
