"""Projection figures, each against its baseline on the same server and the same messages.

apply (credits, reporting): N events published to a JetStream stream of their own; the baseline is
a bare nats-py durable pull consumer fetching 256 at a time and acking each; ours is the kernel's
ProjectionConsumer running the service's projection (batch of 256, one transaction per batch
with its checkpoints, ack after commit) on a fresh, migrated database. Timed: from the first fetch
to the last ack (raw) / to the read model holding all N (ours).
- credits: EnrollmentCompleted → HoursAwarded with its ledger entry (bench/credits.py);
- reporting: the enrollments read model (reporting_enrollments) from TeacherNominated,
  TeacherCheckedIn and EnrollmentCompleted — each enrollment's three events, in stream order.

rebuild (credits): the ledger rebuilt from N HoursAwarded in the event store vs COPY of the same
N entry rows into a bare table (bench/credits.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid

from bench import credits
from services.reporting.projector.enrollments import EnrollmentProjection
from shared.bus import Bus, BusNames, ensure_stream
from shared.consumer import ProjectionConsumer
from shared.db import connect, create_pool, drop_database, ensure_database, migrate, with_database
from shared.envelope import Envelope, utcnow

apply_credits = credits.bench_apply
rebuild_credits = credits.bench_rebuild


def enrollment_events(n: int) -> list[Envelope]:
    """n events (a multiple of 3): per enrollment TeacherNominated, TeacherCheckedIn, EnrollmentCompleted,
    as the enrollment service records them; all nominations first, then check-ins, then completions."""
    people = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(max(1, n // 3))]
    project, host = str(uuid.uuid4()), str(uuid.uuid4())
    ids = {"project_id": project, "region_code": "610102"}
    waves = [
        ("TeacherNominated", 1, lambda e, t: {"enrollment_id": e, "teacher_id": t, **ids, "level": "national",
                                               "category": "骨干教师培训", "year": 2026, "nominated_on": "2026-03-01"}),
        ("TeacherCheckedIn", 2, lambda e, t: {"enrollment_id": e, "teacher_id": t, **ids, "host_id": host,
                                               "checked_in_on": "2026-03-12"}),
        ("EnrollmentCompleted", 3, lambda e, t: {"enrollment_id": e, "teacher_id": t, **ids, "host_id": host,
                                                  "level": "national", "year": 2026, "hours": 30,
                                                  "hour_category": "centralized", "completed_on": "2026-03-16"}),
    ]
    return [Envelope(uuid.uuid4(), "/enrollment", kind, f"enrollment-{e}", utcnow(), data(e, t), stream_version=v)
            for kind, v, data in waves for e, t in people]


async def apply_reporting(server: str, nats_url: str, n: int) -> tuple[float, float]:
    """(raw consume+ack msgs/s, reporting_enrollments events/s) over the same n messages."""
    from services.reporting.main import spec

    names = BusNames(f"bench{uuid.uuid4().hex[:6]}")
    db = with_database(server, f"bench_reporting_{uuid.uuid4().hex[:8]}")
    await ensure_database(db)
    conn = await connect(db)
    try:
        await migrate(conn, spec.migrations)
    finally:
        await conn.close()
    pool = await create_pool(db, 2, 8)
    bus = Bus(nats_url, "bench")
    bus.start()
    await bus.wait_connected(10)
    js = bus.js()
    try:
        await ensure_stream(js, names, "enrollment")
        events = enrollment_events(n)
        n = len(events)
        for i in range(0, n, 1000):
            await asyncio.gather(*(js.publish(names.subject("enrollment", e.category, e.type), e.to_json(),
                                              headers={"Nats-Msg-Id": str(e.id)}) for e in events[i:i + 1000]))
        sub = await js.pull_subscribe(names.subjects("enrollment"), durable="raw", stream=names.stream("enrollment"))
        started, seen = time.perf_counter(), 0
        while seen < n:
            for m in await sub.fetch(256, timeout=5):
                await m.ack()
                seen += 1
        raw = n / (time.perf_counter() - started)
        consumer = ProjectionConsumer(pool, bus, names, EnrollmentProjection(), "enrollment", "reporting",
                                      batch_size=256)
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(consumer.run(stop))
        while consumer.applied < n:  # counted after each batch's commit
            if task.done():
                task.result()
                raise RuntimeError("the reporting consumer stopped")
            await asyncio.sleep(0.01)
        ours = n / (time.perf_counter() - started)
        stop.set()
        await asyncio.wait_for(task, 10)
        done = await pool.fetchval("SELECT count(*) FROM enrollments WHERE status = 'completed'")
        if done != n // 3:
            raise RuntimeError(f"reporting applied {done} completions of {n // 3}")
        await js.delete_stream(names.stream("enrollment"))
        return raw, ours
    finally:
        await bus.close()
        await pool.close()
        await drop_database(db)
