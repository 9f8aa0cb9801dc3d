"""Peer: our event store's append against the `eventsourcing` library's PostgreSQL application
recorder (pyeventsourcing), appending the same events on the same server, separate databases.

Both sides append N events to S streams with C concurrent writers; writer w owns the streams
w, w + C, ..., so no append ever conflicts and every append states the version it expects.
One transaction appends `batch` events to one stream (1 = one event per transaction, as a
command does; > 1 as a bulk import does). The payload is the same JSON (an AttendanceRecorded with
its actor and correlation metadata) on both sides.

- ours: shared.eventstore.EventStore.append_and_commit on an asyncpg pool of C connections, C
  asyncio tasks; per transaction: the one prepared statement that checks the stream's version and
  inserts the events, in PostgreSQL's implicit transaction — one round trip, committed when it
  answers, as the peer's insert_events is a transaction of its own (a command's append runs inside
  the command's transaction instead: BEGIN and COMMIT are the command's; that shape is measured
  too, as an unrated figure beside it, since it is what every command pays). No lock: readers order
  by the commit horizon, and the relay is woken in-process after the commit, not by a NOTIFY —
  shared/eventstore.py says why.
- peer: eventsourcing.postgres.PostgresApplicationRecorder.insert_events on its own psycopg 3
  pool of C connections, C threads; per transaction: LOCK TABLE … IN EXCLUSIVE MODE, NOTIFY, the
  insert of StoredEvents (unique on originator id + version), commit — the library's own way of
  keeping notification ids in commit order, which ours gets from the commit horizon instead.

Timed: from the first append to the last commit, after a warm-up of C transactions per side.
The events' data (dicts with three fresh UUIDs each) is made before the clock, the same way for
both sides: what a caller has in hand when it appends. Each side's own work stays timed: our
NewEvent (its personal-data gate) and JSON encoding, the peer's StoredEvent and orjson.dumps.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import orjson

from shared.db import connect, create_pool, drop_database, ensure_database, migrate, with_database
from shared.envelope import Metadata, NewEvent
from shared.eventstore import EventStore

TOPIC = "services.enrollment.events:AttendanceRecorded"


@dataclass(frozen=True)
class Plan:
    events: int
    streams: int
    concurrency: int
    batch: int

    @property
    def transactions(self) -> int:
        return max(1, self.events // self.batch)

    def work(self, writer: int) -> list[tuple[int, int]]:
        """(stream index, transaction number on that stream) of one writer's transactions, in order."""
        mine = list(range(writer, self.streams, self.concurrency)) or [writer % self.streams]
        n = self.transactions // self.concurrency + (writer < self.transactions % self.concurrency)
        return [(mine[k % len(mine)], k // len(mine)) for k in range(n)]


Work = list[tuple[int, int, list[dict]]]  # one writer's (stream, transaction number, events' data)


def made(plan: Plan, works: list[list[tuple[int, int]]]) -> list[Work]:
    """Each writer's transactions with their events' data, made before the clock (module docstring)."""
    return [[(s, k, [payload(k * plan.batch + j) for j in range(plan.batch)]) for s, k in work] for work in works]


def payload(i: int) -> dict:
    return {"enrollment_id": str(uuid.uuid4()), "project_id": str(uuid.uuid4()), "teacher_id": str(uuid.uuid4()),
            "session_date": "2026-03-12", "status": "present", "hours": 6.0, "seq": i}


META = Metadata(correlation_id=str(uuid.uuid4()), actor={"sub": "bench-host", "role": "host", "org": "610102"})


async def ours(db: str, plan: Plan, in_command: bool = False) -> float:
    """Events per second through EventStore.append_and_commit, or with `in_command` as a command
    appends: BEGIN, EventStore.append, COMMIT (three round trips)."""
    await ensure_database(db)
    conn = await connect(db)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    store = EventStore("enrollment")
    ids = [f"enrollment-{uuid.uuid4()}" for _ in range(plan.streams)]
    pool = await create_pool(db, plan.concurrency, plan.concurrency)

    async def writer(work: Work) -> None:
        for s, k, data in work:
            events = [NewEvent("AttendanceRecorded", d) for d in data]
            async with pool.acquire() as c:
                if in_command:
                    async with c.transaction():
                        await store.append(c, ids[s], k * plan.batch, events, META)
                else:
                    await store.append_and_commit(c, ids[s], k * plan.batch, events, META)

    try:
        warm = made(plan, [[(s, 0)] for s in range(plan.concurrency)])  # version 1..batch of the first C streams
        await asyncio.gather(*(writer(w) for w in warm))
        work = made(plan, [[(s, k + (s < plan.concurrency)) for s, k in plan.work(w)] for w in range(plan.concurrency)])
        started = time.perf_counter()
        await asyncio.gather(*(writer(w) for w in work))
        seconds = time.perf_counter() - started
        return plan.transactions * plan.batch / seconds
    finally:
        await pool.close()
        await drop_database(db)


def _datastore(db: str, size: int):
    from eventsourcing.postgres import PostgresDatastore

    parts = urlsplit(db)
    host = parts.hostname or parse_qs(parts.query).get("host", ["localhost"])[0]
    return PostgresDatastore(dbname=parts.path.lstrip("/"), host=host, port=str(parts.port or 5432),
                             user=parts.username or "postgres", password=parts.password or "", pool_size=size,
                             originator_id_type="text")


def peer_sync(db: str, plan: Plan) -> float:
    """Events per second through eventsourcing's PostgresApplicationRecorder.insert_events."""
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder

    datastore = _datastore(db, plan.concurrency)
    try:
        recorder = PostgresApplicationRecorder(datastore, events_table_name="stored_events")
        recorder.create_table()
        ids = [f"enrollment-{uuid.uuid4()}" for _ in range(plan.streams)]
        meta = META.as_json()

        def writer(work: Work, errors: list[BaseException]) -> None:
            try:
                for s, k, data in work:
                    recorder.insert_events([
                        StoredEvent(originator_id=ids[s], originator_version=k * plan.batch + j + 1, topic=TOPIC,
                                    state=orjson.dumps({**d, "_meta": meta}))
                        for j, d in enumerate(data)])
            except BaseException as exc:  # surfaced after join
                errors.append(exc)

        def run(works: list[Work]) -> float:
            errors: list[BaseException] = []
            threads = [threading.Thread(target=writer, args=(w, errors)) for w in works]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise errors[0]
            return time.perf_counter() - started

        run(made(plan, [[(s, 0)] for s in range(plan.concurrency)]))
        seconds = run(made(plan, [[(s, k + (s < plan.concurrency)) for s, k in plan.work(w)]
                                  for w in range(plan.concurrency)]))
        return plan.transactions * plan.batch / seconds
    finally:
        datastore.close()


async def peer(db: str, plan: Plan) -> float:
    await ensure_database(db)
    try:
        return await asyncio.to_thread(peer_sync, db, plan)
    finally:
        await drop_database(db)


async def measure(server: str, plan: Plan) -> tuple[float, float, float]:
    """(ours events/s, ours inside a command's transaction, peer events/s) for one plan, each on a
    fresh database of the same server."""
    tag = uuid.uuid4().hex[:6]
    mine = await ours(with_database(server, f"bench_store_{tag}"), plan)
    in_command = await ours(with_database(server, f"bench_store_tx_{tag}"), plan, in_command=True)
    theirs = await peer(with_database(server, f"bench_peer_{tag}"), plan)
    return mine, in_command, theirs
