"""Would a pipelining driver make a command cheaper? asyncpg as the kernel uses it against psycopg 3
in pipeline mode, the same statements on the same server.

A command is four round trips with asyncpg (shared/unit_of_work.py): the first message (BEGIN and
the locks and Idempotency-Key check, as literals in one simple-protocol message), the facts, the
one combined write, COMMIT. asyncpg cannot pipeline; psycopg 3 can, which would make it two: BEGIN,
the check and the facts in one flight, the write and COMMIT in another. docs/benchmarks.md took
"a pipelining driver" as the way to close the command targets; this measures it.

The statements have the shape of a recorded attendance (enrollment read model with its attendance
as JSON; an event in an events table with the kernel's four indexes, the attendance upsert, the
idempotency record and the version in one statement), on tables of their own in a fresh database:
what differs between the two sides is only the driver and the number of round trips. `workers`
connections, one task each, every command on an enrollment of its own (no lock is ever waited on).

    python -m bench.driver                   # 6,000 commands per side, embedded PostgreSQL
    python -m bench.driver --commands 600    # DATABASE_URL if set (then PostgreSQL CPU is not measured)

Prints a Markdown table: commands/s, and CPU per command of this process and of PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import asyncpg
import orjson
import psutil
import psycopg
import uvloop

from bench.stack import postmaster_under, tree_cpu
from shared.db import drop_database, ensure_database, with_database
from shared.sqltext import hex_text

SCHEMA = """
CREATE TABLE d_enrollments (id uuid PRIMARY KEY, project_id uuid NOT NULL, teacher_id uuid NOT NULL,
    status text NOT NULL, version int NOT NULL);
CREATE TABLE d_attendance (enrollment_id uuid REFERENCES d_enrollments (id), session_date date, status text,
    hours numeric(5, 1), PRIMARY KEY (enrollment_id, session_date));
CREATE TABLE d_idempotency (principal text, key text, request_hash bytea, status int, body bytea,
    PRIMARY KEY (principal, key));
CREATE TABLE d_events (position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL,
    version int NOT NULL, event_id uuid NOT NULL UNIQUE, type text NOT NULL, schema_version int NOT NULL DEFAULT 1,
    data jsonb NOT NULL, metadata jsonb NOT NULL DEFAULT '{}', recorded_at timestamptz NOT NULL DEFAULT now(),
    tx xid8 NOT NULL DEFAULT pg_current_xact_id(), UNIQUE (stream_id, version));
CREATE INDEX ON d_events (tx, position);
-- As tt_open_command does (migration 0014): generic plans for the transaction, the aggregate's
-- lock, the Idempotency-Key looked up.
CREATE FUNCTION d_open(p_lock text, p_principal text, p_key text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    PERFORM pg_advisory_xact_lock(hashtextextended(p_lock, 0));
    IF EXISTS (SELECT 1 FROM d_idempotency WHERE principal = p_principal AND key = p_key) THEN
        RAISE EXCEPTION 'already ran' USING ERRCODE = 'TT409';
    END IF;
END $$;
"""
_FACTS = """SELECT e.id::text, e.project_id::text, e.teacher_id::text, e.status, e.version,
    (SELECT json_agg(json_build_array(a.session_date, a.status, a.hours)) FROM d_attendance a
     WHERE a.enrollment_id = e.id)
FROM d_enrollments e WHERE e.id = {0}"""
_WRITE = """WITH appended AS (
    INSERT INTO d_events (stream_id, version, event_id, type, data, metadata)
    VALUES ({0}, {1}, {2}, 'AttendanceRecorded', {3}::jsonb, {4}::jsonb) RETURNING position
), recorded AS (
    INSERT INTO d_attendance VALUES ({5}, {6}, 'present', 6)
    ON CONFLICT (enrollment_id, session_date) DO UPDATE SET status = excluded.status, hours = excluded.hours
), kept AS (
    INSERT INTO d_idempotency VALUES ({7}, {8}, {9}, 200, {10})
)
UPDATE d_enrollments SET version = {1} WHERE id = {5}"""
_DOLLARS = [f"${n}" for n in range(1, 12)]
_NAMED = [f"%(p{n})s" for n in range(1, 12)]
_META = orjson.dumps({"correlation_id": str(uuid.uuid4()),
                      "actor": {"sub": str(uuid.uuid4()), "role": "host", "org": "bench"}}).decode()
_PRINCIPAL, _SESSION, _EARLIER = "host:bench", date(2026, 12, 1), date(2026, 11, 30)
SIDES = {"asyncpg": "asyncpg, as the kernel (4)", "psycopg": "psycopg 3 pipeline (2)",
         "optimistic": "asyncpg, optimistic: facts, then one checked write (2)"}


def _write_args(enrollment: uuid.UUID, version: int, key: str) -> tuple:
    data = orjson.dumps({"enrollment_id": str(enrollment), "session_date": _SESSION.isoformat(), "status": "present",
                         "hours": 6.0}).decode()
    return (f"enrollment-{enrollment}", version, uuid.uuid4(), data, _META, enrollment, _SESSION, _PRINCIPAL, key,
            os.urandom(32), b'{"recorded": true}')


async def kernel_shape(conn: asyncpg.Connection, enrollment: uuid.UUID) -> None:
    """Four round trips, as the kernel sends them."""
    key = str(uuid.uuid4())
    await conn.execute(f"BEGIN; SELECT d_open({hex_text(f'enrollment-{enrollment}')}, {hex_text(_PRINCIPAL)}, "
                       f"{hex_text(key)})")
    facts = await conn.fetchrow(_FACTS.format("$1"), enrollment)
    await conn.execute(_WRITE.format(*_DOLLARS), *_write_args(enrollment, facts[4] + 1, key))
    await conn.execute("COMMIT")


async def optimistic_shape(conn: asyncpg.Connection, enrollment: uuid.UUID) -> None:
    """Two round trips with asyncpg and no transaction block: the facts read without a lock, then
    one statement in PostgreSQL's implicit transaction that writes everything and holds the
    decision to the facts it was made on (the stream's version, checked by UNIQUE (stream_id,
    version) and the read model's WHERE; the Idempotency-Key by its primary key). Not how the
    kernel works: the cost of a design where every guard is re-checked in the write."""
    key = str(uuid.uuid4())
    facts = await conn.fetchrow(_FACTS.format("$1"), enrollment)
    status = await conn.execute(_WRITE.format(*_DOLLARS) + " AND version = $2 - 1",
                                *_write_args(enrollment, facts[4] + 1, key))
    if status != "UPDATE 1":
        raise RuntimeError(f"enrollment {enrollment} moved on meanwhile")


async def _psycopg_command(conn: psycopg.AsyncConnection, enrollment: uuid.UUID) -> None:
    """Two round trips: BEGIN, the check and the facts in one flight; the write and COMMIT in the next."""
    key = str(uuid.uuid4())
    async with conn.pipeline() as pipeline:
        await conn.execute("BEGIN")
        await conn.execute("SELECT d_open(%s, %s, %s)", (f"enrollment-{enrollment}", _PRINCIPAL, key))
        cur = await conn.execute(_FACTS.format("%s"), (enrollment,))
        await pipeline.sync()
        facts = await cur.fetchone()
        assert facts is not None
        args = _write_args(enrollment, facts[4] + 1, key)
        await conn.execute(_WRITE.format(*_NAMED), {f"p{n}": v for n, v in enumerate(args, start=1)})
        await conn.execute("COMMIT")
        await pipeline.sync()


async def seed(conn: asyncpg.Connection, n: int) -> list[uuid.UUID]:
    """`n` checked-in enrollments (SCHEMA's tables) to record attendance on, one command each; returns their ids."""
    ids = [uuid.uuid4() for _ in range(n)]
    await conn.copy_records_to_table("d_enrollments", records=[(i, uuid.uuid4(), uuid.uuid4(), "checked_in", 2)
                                                               for i in ids])
    # A service that has run a while: keys recorded, an earlier session's attendance, statistics
    # taken. A command's statements run on generic plans (d_open), and on a table that was empty
    # when analysed the generic plan scans it whole: d_open's key look-up, and the facts' attendance
    # (which then cost 71 µs a command instead of 25, growing with every record the run wrote).
    await conn.copy_records_to_table("d_idempotency", records=[
        ("host:earlier", str(uuid.uuid4()), os.urandom(32), 200, b"{}") for _ in range(n)])
    await conn.copy_records_to_table("d_attendance", records=[(i, _EARLIER, "present", 6) for i in ids])
    await conn.execute("ANALYZE d_enrollments, d_idempotency, d_attendance, d_events")
    return ids


@dataclass(frozen=True)
class Side:
    name: str
    commands: int
    seconds: float
    client_cpu: float  # s, this process
    server_cpu: float | None  # s, PostgreSQL's processes (None: not measurable here)

    def row(self) -> str:
        n = max(1, self.commands)
        pg = f"{self.server_cpu * 1e6 / n:,.0f}" if self.server_cpu is not None else "—"
        total = f"{(self.client_cpu + self.server_cpu) * 1e6 / n:,.0f}" if self.server_cpu is not None else "—"
        rate, client = self.commands / self.seconds, self.client_cpu * 1e6 / n
        return f"| {SIDES[self.name]} | {rate:,.0f} | {client:,.0f} | {pg} | {total} |"


async def _side(name: str, db: str, postmaster: psutil.Process | None, workers: int, commands: int) -> Side:
    setup = await asyncpg.connect(db)
    try:
        await setup.execute(SCHEMA)
        ids = await seed(setup, commands + 50 * workers)
    finally:
        await setup.close()
    run: Callable[[object, uuid.UUID], Awaitable[None]]
    if name in ("asyncpg", "optimistic"):
        conns: list = [await asyncpg.connect(db) for _ in range(workers)]
        run = kernel_shape if name == "asyncpg" else optimistic_shape  # type: ignore[assignment]
    else:
        conns = [await psycopg.AsyncConnection.connect(db, autocommit=True, prepare_threshold=0)
                 for _ in range(workers)]
        run = _psycopg_command  # type: ignore[assignment]

    async def work(conn: object, mine: list[uuid.UUID]) -> None:
        for enrollment in mine:
            await run(conn, enrollment)

    try:
        warm, timed = ids[:50 * workers], ids[50 * workers:]
        await asyncio.gather(*(work(c, warm[k::workers]) for k, c in enumerate(conns)))
        me = psutil.Process()

        def server_cpu() -> float | None:
            return tree_cpu(postmaster) if postmaster is not None else None

        client0, server0, started = sum(me.cpu_times()[:2]), server_cpu(), time.perf_counter()
        await asyncio.gather(*(work(c, timed[k::workers]) for k, c in enumerate(conns)))
        seconds = time.perf_counter() - started
        client1, server1 = sum(me.cpu_times()[:2]), server_cpu()
    finally:
        for c in conns:
            await c.close()
    check = await asyncpg.connect(db)
    try:  # every command wrote its event and its idempotency record, or the figure means nothing
        written = await check.fetchval("SELECT (SELECT count(*) FROM d_events) + (SELECT count(*) FROM d_idempotency"
                                       " WHERE principal = $1)", _PRINCIPAL)
    finally:
        await check.close()
    if written != 2 * len(ids):
        raise RuntimeError(f"{name}: {written} rows written for {len(ids)} commands (expected two each)")
    server = server1 - server0 if server0 is not None and server1 is not None else None
    return Side(name, len(timed), seconds, client1 - client0, server)


async def measure(server: str, postmaster: psutil.Process | None, workers: int, commands: int,
                  rounds: int) -> list[Side]:
    """Each side `rounds` times, alternately, each run on a fresh database of `server`."""
    sides = []
    for _ in range(rounds):
        for name in SIDES:
            db = with_database(server, f"bench_driver_{uuid.uuid4().hex[:8]}")
            await ensure_database(db)
            try:
                sides.append(await _side(name, db, postmaster, workers, commands))
            finally:
                await drop_database(db)
    return sides


def table(sides: list[Side], workers: int) -> str:
    return "\n".join([
        f"{workers} connections, one task each; every command on an enrollment of its own.", "",
        "| driver (round trips per command) | commands/s | this process µs/command | PostgreSQL µs/command | "
        "total µs/command |", "|---|---|---|---|---|",
        *(s.row() for s in sides), ""])


async def _main(workers: int, commands: int, rounds: int) -> str:
    if url := os.environ.get("DATABASE_URL"):
        return table(await measure(url, None, workers, commands, rounds), workers)
    from shared.devstack import start_postgres, stop_postgres

    with tempfile.TemporaryDirectory(prefix="tt-driver-bench-") as d:
        server = start_postgres(Path(d))
        try:
            return table(await measure(server, postmaster_under((Path(d) / "pg").resolve()), workers, commands, rounds),
                         workers)
        finally:
            stop_postgres(Path(d))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.driver", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commands", type=int, default=6000, help="timed commands per side and round")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2, help="runs per side, alternating")
    args = ap.parse_args(argv)
    print(uvloop.run(_main(args.workers, args.commands, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
