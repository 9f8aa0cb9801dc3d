"""Credits projection benchmark, each figure against its baseline in the same run:

1. apply: the intake projection consuming EnrollmentCompleted from JetStream (judge the policy,
   record HoursAwarded with its entry, checkpoint, ack) vs raw nats-py JetStream pull-consume + ack
   of the same messages;
2. rebuild: the inline read models (the ledger) rebuilt from N HoursAwarded in the event store
   (kernel rebuild, checkpoints and all) vs PostgreSQL COPY of the same N entry rows into a bare table.

    python -m bench.credits                      # 20,000 completions, 1,000,000 events
    python -m bench.credits --apply 500 --rebuild 5000 --out table.md

Uses DATABASE_URL / NATS_URL when set, else an embedded PostgreSQL and NATS (shared/devstack.py).
Meant for bench/ (the lead wires it into `make bench`); no figure is asserted by a test.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import orjson

from bench.consume import Meter, raw_then_projection
from services.credits.events import registry
from services.credits.main import spec
from services.credits.projector.intake import IntakeProjection
from shared.bus import BusNames
from shared.db import connect, create_pool, drop_database, ensure_database, migrate, with_database
from shared.devstack import start_nats, start_postgres, stop_postgres
from shared.envelope import Envelope, utcnow
from shared.eventstore import EventStore
from shared.feed import store_source
from shared.inline import InlineReplay
from shared.projection import rebuild

SCHOOL = "360102001"
POLICY = {"jurisdiction_code": "360000", "effective_from": "2018-02-06", "hours_per_credit": 20, "annual_hours": 60,
          "cycle_years": 5, "cycle_start_year": 2018, "cycle_hours": 300, "published_on": "2018-02-06"}


def _completions(n: int, teachers: list[str]) -> list[Envelope]:
    out = []
    for i in range(n):
        eid = str(uuid.uuid4())
        out.append(Envelope(uuid.uuid4(), "/enrollment", "EnrollmentCompleted", f"enrollment-{eid}", utcnow(), {
            "enrollment_id": eid, "project_id": str(uuid.uuid4()), "teacher_id": teachers[i % len(teachers)],
            "region_code": "360102", "host_id": None, "level": "provincial", "year": 2023, "hours": 60,
            "hour_category": "online", "completed_on": "2023-07-14"}, stream_version=1))
    return out


async def _fresh_db(server: str) -> str:
    url = with_database(server, f"bench_credits_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    conn = await connect(url)
    try:
        await migrate(conn, spec.migrations)
        await conn.execute("INSERT INTO policies VALUES ('360000', 1, '2018-02-06', '2018-02-06', $1)", POLICY)
    finally:
        await conn.close()
    return url


async def bench_apply(server: str, nats_url: str, n: int, meter: Meter | None = None) -> tuple[float, float]:
    """(raw consume+ack msgs/s, projection events/s) over the same n messages; `meter` is started
    and stopped around the projection's run."""
    names, db = BusNames(f"bench{uuid.uuid4().hex[:6]}"), await _fresh_db(server)
    teachers = [str(uuid.uuid4()) for _ in range(max(1, n // 20))]
    pool = await create_pool(db, 2, 8)
    await pool.executemany("INSERT INTO teacher_schools VALUES ($1, $2, '2010-09-01')",
                           [(uuid.UUID(t), SCHOOL) for t in teachers])
    events = _completions(n, teachers)

    async def applied(consumer) -> bool:
        # Counted after each batch's commit, as for reporting: a count(*) of the ledger every 10 ms
        # would load the very PostgreSQL being measured. Every completion earns an entry (checked below).
        return consumer.applied >= n

    try:
        # Ours: the live consumer of the credits service, on its own durable.
        intake = IntakeProjection(spec.inline)
        raw, ours = await raw_then_projection(nats_url, names, pool, events, intake, "credits", applied, meter)
        if (entries := await pool.fetchval("SELECT count(*) FROM entries")) != n:
            raise RuntimeError(f"credits awarded {entries} entries for {n} completions")
        return raw, ours
    finally:
        await pool.close()
        await drop_database(db)


def _csv(rows: list[tuple]) -> io.BytesIO:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return io.BytesIO(buf.getvalue().encode())


def _awards(count: int) -> tuple[list[tuple], list[tuple]]:
    """(events rows, the entries rows a rebuild makes of them), as CSV-ready tuples."""
    events, entries = [], []
    for _ in range(count):
        entry, teacher = str(uuid.uuid4()), str(uuid.uuid4())
        data = {"entry_id": entry, "teacher_id": teacher, "hours": 60, "category": "online", "earned_on": "2023-07-14",
                "recorded_on": "2023-07-14", "school_year": 2022, "org_code": SCHOOL, "jurisdiction_code": "360000",
                "source": {"type": "enrollment"}}
        events.append((f"award-{entry}", 1, str(uuid.uuid4()), "HoursAwarded", 1, orjson.dumps(data).decode(), "{}"))
        entries.append((entry, teacher, "award", f"award-{entry}", SCHOOL, 600, "online", "2023-07-14", 2022,
                        "2023-07-14", '{"type":"enrollment"}', None, None))
    return events, entries


async def bench_rebuild(server: str, n: int, chunk: int = 50_000) -> tuple[float, float]:
    """(COPY rows/s, ledger rebuild events/s) for n HoursAwarded."""
    db = await _fresh_db(server)
    pool = await create_pool(db, 2, 8)
    try:
        copy_seconds = 0.0
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE copy_baseline (LIKE entries INCLUDING ALL)")
            for i in range(0, n, chunk):
                events, entries = _awards(min(chunk, n - i))
                await conn.copy_to_table("events", source=_csv(events), format="csv", columns=[
                    "stream_id", "version", "event_id", "type", "schema_version", "data", "metadata"])
                started = time.perf_counter()
                await conn.copy_to_table("copy_baseline", source=_csv(entries), format="csv")
                copy_seconds += time.perf_counter() - started
            await conn.execute("ANALYZE")
        started = time.perf_counter()
        total = await rebuild(pool, InlineReplay("credits", spec.inline),
                              store_source(pool, EventStore("credits", registry), limit=2000))
        ours = total / (time.perf_counter() - started)
        assert await pool.fetchval("SELECT count(*) FROM entries") == n
        return n / copy_seconds, ours
    finally:
        await pool.close()
        await drop_database(db)


def table(apply_n: int, rebuild_n: int, raw: float, ours: float, copy: float, rebuilt: float) -> str:
    return "\n".join([
        f"Measured {date.today()} on {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}.",
        "", "| figure | ours (events/s) | baseline (/s) | ratio | baseline |", "|---|---|---|---|---|",
        f"| apply ({apply_n:,} completions → HoursAwarded) | {ours:,.0f} | {raw:,.0f} | {ours / raw:.3f} "
        "| nats-py JetStream pull consume + ack |",
        f"| rebuild ledger ({rebuild_n:,} events) | {rebuilt:,.0f} | {copy:,.0f} | {rebuilt / copy:.3f} "
        "| PostgreSQL COPY of the same rows |", ""])


async def _measure(apply_n: int, rebuild_n: int) -> str:
    with tempfile.TemporaryDirectory(prefix="tt-credits-bench-") as d:
        server = os.environ.get("DATABASE_URL") or start_postgres(Path(d))
        nats_server = None if os.environ.get("NATS_URL") else start_nats(Path(d))
        try:
            raw, ours = await bench_apply(server, os.environ.get("NATS_URL") or nats_server.url, apply_n)
            copy, rebuilt = await bench_rebuild(server, rebuild_n)
        finally:
            if nats_server:
                nats_server.stop()
            if not os.environ.get("DATABASE_URL"):
                stop_postgres(Path(d))
    return table(apply_n, rebuild_n, raw, ours, copy, rebuilt)


def run_all(apply_n: int = 20_000, rebuild_n: int = 1_000_000) -> str:
    """Both credits figures with their baselines (called by `make bench`)."""
    return asyncio.run(_measure(apply_n, rebuild_n))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.credits")
    ap.add_argument("--apply", type=int, default=20_000)
    ap.add_argument("--rebuild", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    text = run_all(args.apply, args.rebuild)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
