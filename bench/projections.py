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

import uuid

from bench import credits
from bench.consume import raw_then_projection
from services.reporting.projector.enrollments import EnrollmentProjection
from shared.bus import BusNames
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
    events = enrollment_events(n)
    try:
        raw, ours = await raw_then_projection(nats_url, names, pool, events, EnrollmentProjection(), "reporting",
                                              lambda consumer: _applied(consumer, len(events)))
        done = await pool.fetchval("SELECT count(*) FROM enrollments WHERE status = 'completed'")
        if done != len(events) // 3:
            raise RuntimeError(f"reporting applied {done} completions of {len(events) // 3}")
        return raw, ours
    finally:
        await pool.close()
        await drop_database(db)


async def _applied(consumer: ProjectionConsumer, n: int) -> bool:
    return consumer.applied >= n  # counted after each batch's commit
