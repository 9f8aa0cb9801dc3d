"""shared/sqltext.py: values spelled into the simple-protocol statements a command sends with its
BEGIN and its COMMIT. Each literal must read back in PostgreSQL as exactly the value it spells,
whatever a text holds, and nothing else is guessed at."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from shared.sqltext import Prepared, literal

AWKWARD = ["", "'", "''; DROP TABLE events; --", "\\", "$1", "报到 第1期", "a\nb\tc", "\u00e9\u0301", "😀", "x" * 5000]


@pytest.mark.parametrize("value", AWKWARD, ids=range(len(AWKWARD)))
async def test_a_text_reads_back_as_itself_and_can_be_cast(pool, value):
    assert await pool.fetchval(f"SELECT {literal(value)}") == value
    assert await pool.fetchval(f"SELECT {literal(value)} = $1", value) is True  # compared in the default collation


async def test_other_values_read_back_as_themselves(pool):
    u = uuid.uuid4()
    assert await pool.fetchrow(f"SELECT {literal(u)}, {literal(str(u))}::uuid, {literal(-42)}, {literal(True)}, "
                               f"{literal(False)}, {literal(None)}::int") == (u, u, -42, True, False, None)


async def test_a_prepared_statement_runs_by_name_with_its_values_as_sent(pool, db_url):
    """Prepared (a command's first message and its at_commit writes): readied once on a pool's
    connection, which remembers it; any other connection's session is asked, so readying twice is
    harmless there too; EXECUTE with the values spelled hands the statement exactly those values."""
    stmt = Prepared("INSERT INTO seen (t, u, n, b) VALUES ($1, $2::uuid, $3 + 1, $4)")
    u = uuid.uuid4()
    async with pool.acquire() as conn:
        await conn.execute("CREATE TEMP TABLE seen (t text, u uuid, n int, b bool)")
        try:
            await stmt.ready(conn)
            assert stmt.name in conn.prepared_names
            await stmt.ready(conn)  # remembered: no second PREPARE (which would fail)
            for value in AWKWARD:
                # A UUID as text (as event data carries it): text has no assignment cast to uuid.
                await conn.execute(f"TRUNCATE seen; {stmt.call([value, str(u), 41, None])}")
                assert await conn.fetchrow("SELECT * FROM seen") == (value, u, 42, None)
            with pytest.raises(ValueError, match="takes 4"):
                stmt.call([value])
        finally:
            await conn.execute(f"DEALLOCATE {stmt.name}; DROP TABLE seen")
            conn.prepared_names.discard(stmt.name)
    plain = await asyncpg.connect(db_url)
    try:
        await plain.execute("CREATE TEMP TABLE seen (t text, u uuid, n int, b bool)")
        await stmt.ready(plain)
        await stmt.ready(plain)
        assert await plain.fetchval("SELECT count(*) FROM pg_prepared_statements WHERE name = $1", stmt.name) == 1
    finally:
        await plain.close()
    assert await pool.fetchval(f"SELECT {literal(AWKWARD)}::text[]") == AWKWARD  # a list: an ARRAY of them
    with pytest.raises(TypeError):
        literal([])  # an empty ARRAY has no element type to read
    with pytest.raises(TypeError, match="float"):
        literal(1.5)  # a float's text is not what the caller meant to compare: refused, not rounded
