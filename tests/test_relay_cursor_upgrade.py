"""Upgrading a live store to the relay's cursor (migration 0006) loses no unpublished event.

A database migrated up to 0005 holds events the old relay published (their outbox rows deleted)
and events still waiting, one of them with a later position than a published one but an older
transaction: the store's order is (tx, position), so the cursor must start before it. After 0006
the `outbox` view must list every event that was waiting, so the relay publishes each of them.
"""

from __future__ import annotations

import uuid

import asyncpg

from shared.db import connect, drop_database, ensure_database, with_database
from tests.kernel import apply_kernel_migrations


async def _append_05(conn: asyncpg.Connection, stream: str) -> int:
    """An append as the 0005 kernel made it: the event and its outbox row."""
    return await conn.fetchval(
        "SELECT position FROM tt_append($1, -1, $2, ARRAY['Counted'], ARRAY[1], ARRAY['{}'::jsonb], '{}'::jsonb)",
        stream, [uuid.uuid4()])


async def test_every_event_waiting_in_the_old_outbox_is_in_the_view_after_the_upgrade(pg_server_url):
    url = with_database(pg_server_url, f"upgrade_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    conn = await connect(url)
    try:
        await apply_kernel_migrations(conn, "0005_commit_horizon.sql")
        published = [await _append_05(conn, f"s-{i}") for i in range(3)]
        # An older transaction's event that is still waiting, committed after later ones.
        older = await connect(url)
        try:
            tx = older.transaction()
            await tx.start()
            await older.fetchval("SELECT pg_current_xact_id()")  # its transaction id, older than what follows
            newer = [await _append_05(conn, f"s-new-{i}") for i in range(2)]
            late = await _append_05(older, "s-late")  # a later position, an older transaction
            await tx.commit()
        finally:
            await older.close()
        assert late > max(newer)
        # The old relay had published the first three and one of the newer ones.
        await conn.execute("DELETE FROM outbox WHERE position = ANY($1::bigint[])", [*published, newer[0]])
        waiting = {late, newer[1]}
        assert {r["position"] for r in await conn.fetch("SELECT position FROM outbox")} == waiting

        await apply_kernel_migrations(conn, "0006_relay_cursor.sql", first="0006_relay_cursor.sql")

        in_view = {r["position"] for r in await conn.fetch("SELECT position FROM outbox")}
        assert waiting <= in_view, "an event waiting before the upgrade must still be waiting after it"
        assert not set(published) & in_view, "events published before the oldest waiting one stay published"
        assert await conn.fetchval("SELECT count(*) FROM outbox") == len(in_view)
        # Deleting from the view moves the cursor past the row: the relay's "published".
        await conn.execute("DELETE FROM outbox")
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await conn.close()
        await drop_database(url)
