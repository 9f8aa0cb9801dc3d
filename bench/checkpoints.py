"""What projection checkpoints cost in a service database after a province-like load (issue 19).

The load, through the kernel's Applier in batches of 256 as the live consumer applies them (no
NATS: the bytes at rest are the same): enrollment's org chain, `--teachers` TeacherRegistered (one
stream each) and `--completions` enrollments of three events each (TeacherNominated,
TeacherCheckedIn, EnrollmentCompleted), into every projection of the service that follows
enrollment; then its projections of its own store over what they recorded (credits: the
HoursAwarded its intake recorded, into compliance). The scale run's ratio (docs/scale.md) is 20
teachers per enrollment.

    python -m bench.checkpoints                          # credits and reporting: 50,000 teachers, 2,500 completions
    python -m bench.checkpoints --service credits --teachers 5000 --completions 250

Prints the checkpoint relations' bytes (tables, indexes, TOAST: pg_total_relation_size) against
every table of the database and against pg_database_size. Works on any schema version (the
checkpoints table of migration 0001 or the compact one of 0012), so the same file measures before
and after. Uses DATABASE_URL when set, else an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from bench.credits import POLICY, SCHOOL
from shared.db import connect, create_pool, drop_database, ensure_database, migrate, with_database
from shared.devstack import start_postgres, stop_postgres
from shared.envelope import Envelope, utcnow
from shared.eventstore import EventStore
from shared.feed import store_source
from shared.projection import Applier, Delivery, Outcome
from shared.service import ServiceSpec

BATCH = 256
ORGS = [("360000", "province", None), ("360100", "city", "360000"), ("360102", "county", "360100"),
        (SCHOOL, "school", "360102")]
# Whatever the schema calls them: 0001's table, or 0012's compact table and its projection numbers.
CHECKPOINT_RELATIONS = ("projection_checkpoints", "stream_checkpoints", "projection_ids")


def _event(type_: str, stream: str, version: int, data: dict) -> Envelope:
    return Envelope(uuid.uuid4(), "/enrollment", type_, stream, utcnow(), data, stream_version=version)


def enrollment_load(teachers: int, completions: int) -> list[Envelope]:
    """The enrollment events credits follows, in an order enrollment could have recorded them."""
    out = [_event("OrgRegistered", f"org-{code}", 1, {"code": code, "name": code, "kind": kind, "parent_code": parent})
           for code, kind, parent in ORGS]
    people = [str(uuid.uuid4()) for _ in range(teachers)]
    out += [_event("TeacherRegistered", f"teacher-{t}", 1, {"teacher_id": t, "school_code": SCHOOL,
                                                            "hired_on": "2010-09-01"}) for t in people]
    project, host = str(uuid.uuid4()), str(uuid.uuid4())
    ids = {"project_id": project, "region_code": "360102"}
    enrollments = [(str(uuid.uuid4()), people[i % teachers]) for i in range(completions)]
    for e, t in enrollments:
        stream = f"enrollment-{e}"
        out += [
            _event("TeacherNominated", stream, 1, {"enrollment_id": e, "teacher_id": t, **ids, "level": "provincial",
                                                   "category": "骨干教师培训", "year": 2023,
                                                   "nominated_on": "2023-03-01"}),
            _event("TeacherCheckedIn", stream, 2, {"enrollment_id": e, "teacher_id": t, **ids, "host_id": host,
                                                   "checked_in_on": "2023-03-12"}),
            _event("EnrollmentCompleted", stream, 3, {
                "enrollment_id": e, "teacher_id": t, **ids, "host_id": host, "level": "provincial", "year": 2023,
                "hours": 60, "hour_category": "online", "completed_on": "2023-07-14"}),
        ]
    return out


async def _apply(pool, applier: Applier, events: Sequence[Envelope]) -> None:
    for i in range(0, len(events), BATCH):
        outcomes = await applier.apply(pool, [Delivery(e) for e in events[i:i + BATCH]])
        # Applied, or nothing to apply (a stream the projection does not follow); never parked or handed back.
        if any(o not in (Outcome.APPLIED, Outcome.DUPLICATE) for o in outcomes):
            raise RuntimeError(f"{applier.projection.name}: not all settled: {set(outcomes)}")


async def sizes(conn) -> dict[str, int]:
    """Bytes of the checkpoint relations, of every table of the database, and of the database."""
    rows = await conn.fetch(
        """SELECT c.relname, pg_total_relation_size(c.oid) AS bytes FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = current_schema() AND c.relkind = 'r'""")
    tables = {r["relname"]: r["bytes"] for r in rows}
    return {"checkpoints": sum(tables.get(name, 0) for name in CHECKPOINT_RELATIONS),
            "tables": sum(tables.values()),
            "database": await conn.fetchval("SELECT pg_database_size(current_database())"),
            "checkpoint_rows": await conn.fetchval("SELECT count(*) FROM projection_checkpoints")}


async def measure(server: str, service: str, teachers: int, completions: int) -> dict[str, int]:
    spec: ServiceSpec = importlib.import_module(f"services.{service}.main").spec
    db = with_database(server, f"bench_checkpoints_{uuid.uuid4().hex[:8]}")
    await ensure_database(db)
    conn = await connect(db)
    try:
        await migrate(conn, spec.migrations)
        if service == "credits":
            await conn.execute("INSERT INTO policies VALUES ('360000', 1, '2018-02-06', '2018-02-06', $1)", POLICY)
    finally:
        await conn.close()
    pool = await create_pool(db, 2, 4)
    try:
        load = enrollment_load(teachers, completions)
        for projection in spec.projections:
            if projection.sources == ("enrollment",):
                await _apply(pool, Applier(projection, traced=False), load)
        if service == "credits" and (awarded := await pool.fetchval("SELECT count(*) FROM entries")) != completions:
            raise RuntimeError(f"credits awarded {awarded} of {completions} completions")
        for projection in spec.projections:
            if projection.sources == (service,):
                own = Applier(projection, traced=False)
                async for page in store_source(pool, EventStore(service, spec.registry), limit=BATCH):
                    await _apply(pool, own, page)
        async with pool.acquire() as conn:
            await conn.execute("VACUUM ANALYZE")  # settled pages, as a database some hours into its day
            return await sizes(conn)
    finally:
        await pool.close()
        await drop_database(db)


def report(service: str, teachers: int, completions: int, s: dict[str, int]) -> str:
    mb = 1024 * 1024
    return (f"{service}: {teachers:,} teachers, {completions:,} completions: {s['checkpoint_rows']:,} checkpoint rows, "
            f"{s['checkpoints'] / mb:.1f} MB ({s['checkpoints'] / s['checkpoint_rows']:.0f} B a row) = "
            f"{100 * s['checkpoints'] / s['tables']:.1f} % of the tables' {s['tables'] / mb:.1f} MB, "
            f"{100 * s['checkpoints'] / s['database']:.1f} % of the database's {s['database'] / mb:.1f} MB")


async def _main(services: list[str], teachers: int, completions: int) -> None:
    with tempfile.TemporaryDirectory(prefix="tt-checkpoints-bench-") as d:
        server = os.environ.get("DATABASE_URL") or start_postgres(Path(d))
        try:
            for service in services:
                print(report(service, teachers, completions, await measure(server, service, teachers, completions)))
        finally:
            if not os.environ.get("DATABASE_URL"):
                stop_postgres(Path(d))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", choices=["credits", "reporting"], action="append")
    parser.add_argument("--teachers", type=int, default=50_000)
    parser.add_argument("--completions", type=int, default=2_500)
    args = parser.parse_args()
    asyncio.run(_main(args.service or ["credits", "reporting"], args.teachers, args.completions))
