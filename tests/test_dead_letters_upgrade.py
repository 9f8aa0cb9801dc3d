"""Upgrading a store with dead letters to migration 0011 (issue 19): every dead letter keeps its
state, the pending ones stay pending (failures taken from their deliveries, the only count there
was), the replayed ones become replayed-and-applied, as the old replay reported them."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from shared.db import connect, drop_database, ensure_database, with_database
from tests.kernel import apply_kernel_migrations


async def test_dead_letters_keep_their_state_through_0011(pg_server_url):
    url = with_database(pg_server_url, f"upgrade_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    conn = await connect(url)
    try:
        await apply_kernel_migrations(conn, "0010_rate_buckets.sql")
        for replayed, deliveries in ((False, 5), (True, 7)):
            await conn.execute(
                """INSERT INTO dead_letters (projection, event_id, stream_id, version, type, envelope, error,
                                             deliveries, replayed_at)
                   VALUES ('p', $1, 's', 1, 'T', '{}'::jsonb, 'E', $2, CASE WHEN $3 THEN now() END)""",
                uuid.uuid4(), deliveries, replayed)
        await apply_kernel_migrations(conn, "0011_dead_letter_ops.sql", first="0011_dead_letter_ops.sql")
        rows = await conn.fetch("SELECT failures, replay_result, replayed_at IS NULL AS pending, discarded_at "
                                "FROM dead_letters ORDER BY id")
        assert [tuple(r) for r in rows] == [(5, None, True, None), (7, "applied", False, None)]
        # A discard must say who and why, and a dead letter is settled one way only.
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE dead_letters SET discarded_at = now(), discarded_by = ' ', discard_reason = 'x'"
                               " WHERE replayed_at IS NULL")
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE dead_letters SET discarded_at = now(), discarded_by = 'a', discard_reason = 'x'"
                               " WHERE replayed_at IS NOT NULL")
    finally:
        await conn.close()
        await drop_database(url)
