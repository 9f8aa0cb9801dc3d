"""A command's writes in one statement (shared/combine.py): what is combined, and that a
combined statement does exactly what the statements run in turn did — against real PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from shared import combine
from shared.envelope import Metadata, NewEvent
from shared.eventstore import NO_STREAM, ConcurrencyError, EventStore, _append_with
from shared.inline import InlineProjection, project_and_append

store = EventStore("enrollment")

NOMINATED_ROW = "INSERT INTO cmb_enrollments (id, status) VALUES ($1, 'nominated')"
PLACE_TAKEN = """WITH place AS (INSERT INTO cmb_nominees (enrollment_id) VALUES ($1))
                 UPDATE cmb_quotas SET used = used + 1 WHERE region = $2"""
CHECKED_IN = "UPDATE cmb_enrollments SET status = 'checked_in' WHERE id = $1"


def test_plain_writes_and_with_lists_are_taken_apart():
    w = combine.parse(PLACE_TAKEN)
    assert w is not None
    assert [name for name, _ in w.ctes] == ["place"]
    assert w.writes == {"cmb_nominees", "cmb_quotas"}
    assert w.main.startswith("UPDATE cmb_quotas")
    assert combine.parse("DELETE FROM t WHERE x = $1") is not None


@pytest.mark.parametrize("sql", [
    "SELECT 1",  # unreferenced, a SELECT in a WITH list would not even run
    "INSERT INTO t VALUES ($1); DELETE FROM u",
    "INSERT INTO t VALUES ($1) -- a comment",
    "INSERT INTO t VALUES ($1) /* a comment */",
    "INSERT INTO t SELECT $$x$$",
    "INSERT INTO t VALUES ('costs $1')",
    "WITH RECURSIVE r AS (SELECT 1) INSERT INTO t SELECT * FROM r",
    "WITH a AS (VALUES (1)) INSERT INTO t SELECT * FROM a",
    "WITH a AS (INSERT INTO t VALUES (1)) SELECT 1",
])
def test_what_is_not_combined(sql):
    assert combine.parse(sql) is None


def test_two_writes_of_one_table_or_a_read_of_a_written_one_are_not_independent():
    a, b, c = (combine.parse(s) for s in (NOMINATED_ROW, CHECKED_IN, PLACE_TAKEN))
    assert a and b and c
    assert combine.independent([a, c])
    assert not combine.independent([a, b])  # both write cmb_enrollments
    reads = combine.parse("INSERT INTO cmb_log SELECT count(*) FROM cmb_nominees WHERE x = $1")
    assert reads and not combine.independent([c, reads])  # would not see c's row
    shadow = combine.parse("INSERT INTO place (x) VALUES ($1)")  # c's CTE name would hide it
    assert shadow and not combine.independent([c, shadow])


def test_parameters_are_renumbered_after_the_append():
    sql = _append_with(True, (NOMINATED_ROW, PLACE_TAKEN), (1, 2))
    assert sql is not None
    assert "VALUES ($14, 'nominated')" in sql and "VALUES ($15)" in sql and "region = $16" in sql
    assert _append_with(False, (NOMINATED_ROW, CHECKED_IN), (1, 1)) is None


@pytest.fixture
async def tables(pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        await conn.execute("""
            DROP TABLE IF EXISTS cmb_enrollments, cmb_nominees, cmb_quotas;
            CREATE TABLE cmb_enrollments (id uuid PRIMARY KEY, status text NOT NULL);
            CREATE TABLE cmb_nominees (enrollment_id uuid PRIMARY KEY);
            CREATE TABLE cmb_quotas (region text PRIMARY KEY, places int, used int CHECK (used <= places));
            INSERT INTO cmb_quotas VALUES ('610102', 1, 0);""")
    yield pool


async def _state(conn: asyncpg.Connection) -> dict[str, Any]:
    return {"enrollments": [tuple(r) for r in await conn.fetch("SELECT id, status FROM cmb_enrollments ORDER BY id")],
            "nominees": await conn.fetchval("SELECT count(*) FROM cmb_nominees"),
            "used": await conn.fetchval("SELECT used FROM cmb_quotas")}


async def test_a_combined_append_writes_the_events_and_every_table(tables):
    eid, stream = uuid.uuid4(), f"enrollment-{uuid.uuid4()}"
    async with tables.acquire() as conn, conn.transaction():
        recorded = await store.append(conn, stream, NO_STREAM, [NewEvent("TeacherNominated", {"n": 1})],
                                      Metadata(), writes=[(NOMINATED_ROW, (eid,)), (PLACE_TAKEN, (eid, "610102"))])
    assert [e.stream_version for e in recorded] == [1]
    async with tables.acquire() as conn:
        assert await _state(conn) == {"enrollments": [(eid, "nominated")], "nominees": 1, "used": 1}
        assert await conn.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", stream) == 1


async def test_a_guard_check_in_the_combined_statement_fails_it_whole(tables):
    async with tables.acquire() as conn:
        await conn.execute("UPDATE cmb_quotas SET used = 1")  # the last place is gone
    stream = f"enrollment-{uuid.uuid4()}"
    with pytest.raises(asyncpg.CheckViolationError):  # a race to the unit of work: it runs again
        async with tables.acquire() as conn, conn.transaction():
            eid = uuid.uuid4()
            await store.append(conn, stream, NO_STREAM, [NewEvent("TeacherNominated", {"n": 1})], Metadata(),
                               writes=[(NOMINATED_ROW, (eid,)), (PLACE_TAKEN, (eid, "610102"))])
    async with tables.acquire() as conn:
        assert await _state(conn) == {"enrollments": [], "nominees": 0, "used": 1}
        assert await conn.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", stream) == 0


async def test_a_stream_that_moved_on_rolls_back_the_writes_beside_the_append(tables):
    stream = f"enrollment-{uuid.uuid4()}"
    async with tables.acquire() as conn, conn.transaction():
        await store.append(conn, stream, NO_STREAM, [NewEvent("TeacherNominated", {"n": 1})])
    with pytest.raises(ConcurrencyError):
        async with tables.acquire() as conn, conn.transaction():
            eid = uuid.uuid4()
            await store.append(conn, stream, NO_STREAM, [NewEvent("TeacherNominated", {"n": 2})], Metadata(),
                               writes=[(NOMINATED_ROW, (eid,)), (PLACE_TAKEN, (eid, "610102"))])
    async with tables.acquire() as conn:
        assert await _state(conn) == {"enrollments": [], "nominees": 0, "used": 0}


async def test_writes_that_depend_on_each_other_run_in_turn(tables):
    # Run as one statement, the UPDATE would not see the row the INSERT adds: it stays 'nominated'.
    eid = uuid.uuid4()
    async with tables.acquire() as conn, conn.transaction():
        await store.append(conn, f"enrollment-{eid}", NO_STREAM,
                           [NewEvent("TeacherNominated", {"n": 1}), NewEvent("TeacherCheckedIn", {"n": 2})],
                           Metadata(), writes=[(NOMINATED_ROW, (eid,)), (CHECKED_IN, (eid,))])
    async with tables.acquire() as conn:
        assert (await _state(conn))["enrollments"] == [(eid, "checked_in")]


async def test_an_inline_handler_that_reads_sees_the_events_and_writes_before_it(tables):
    seen: list[tuple[int, int]] = []
    proj = InlineProjection("cmb", ("cmb_enrollments",))

    @proj.handles("TeacherNominated")
    async def nominated(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
        await conn.execute(NOMINATED_ROW, uuid.UUID(d["id"]))
        seen.append((await conn.fetchval("SELECT count(*) FROM cmb_enrollments WHERE id = $1", uuid.UUID(d["id"])),
                     await conn.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", stream_id)))

    eid = uuid.uuid4()
    async with tables.acquire() as conn, conn.transaction():
        await project_and_append(conn, store, [proj], [(f"enrollment-{eid}", NO_STREAM,
                                                        [NewEvent("TeacherNominated", {"id": str(eid)})], Metadata())])
    assert seen == [(1, 1)]
