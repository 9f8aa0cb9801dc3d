"""reporting_enrollments' set-based apply_batch against its one-by-one apply: the same events
(nominations, replacements, check-ins, evaluations, every way of finishing, an enrollment's
events back to back and interleaved with others', a replayed event) give the same rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.reporting.projector.enrollments import EnrollmentProjection
from shared.envelope import Envelope
from shared.projection import Traced

PROJECT = uuid.uuid4()


def history() -> list[Envelope]:
    events: list[Envelope] = []
    version: dict[str, int] = {}

    def add(eid: str, type_: str, **data) -> None:
        version[eid] = version.get(eid, 0) + 1
        events.append(Envelope(id=uuid.uuid4(), source="/enrollment", type=type_, subject=f"enrollment-{eid}",
                               time=datetime(2023, 7, 1 + len(events) % 20, 3, tzinfo=UTC),
                               data={"enrollment_id": eid, **data}, stream_version=version[eid],
                               position=len(events) + 1))

    ids = [str(uuid.uuid4()) for _ in range(6)]
    for i, eid in enumerate(ids):
        add(eid, "TeacherNominated", project_id=str(PROJECT), teacher_id=str(uuid.uuid4()), region_code="610102",
            level="national", year=2023, nominated_on=f"2023-06-{10 + i}")
    add(ids[0], "NomineeReplaced", teacher_id=str(uuid.uuid4()))
    add(ids[0], "NomineeReplaced", teacher_id=str(uuid.uuid4()))  # the same enrollment twice in a row
    for eid in ids[:5]:
        add(eid, "TeacherCheckedIn", checked_in_on="2023-07-10")
    add(ids[1], "EvaluationSubmitted", satisfied=True, score=5)  # evaluation before the finish …
    add(ids[1], "EnrollmentCompleted", completed_on="2023-07-14")
    add(ids[2], "EnrollmentFailed", failed_on="2023-07-14", reason="过程考核不合格")
    add(ids[0], "EnrollmentCompleted", completed_on="2023-07-14")
    add(ids[0], "EvaluationSubmitted", satisfied=False, score=2)  # … and after it
    add(ids[3], "NoShowRecorded")
    add(ids[5], "EnrollmentWithdrawn", reason="工作调动")
    return events


async def rows(conn) -> list[tuple]:
    return [tuple(r) for r in await conn.fetch(
        "SELECT * FROM enrollments WHERE project_id = $1 ORDER BY enrollment_id", PROJECT)]


async def test_apply_batch_gives_the_rows_apply_gives(launch):
    projection, events = EnrollmentProjection(), history()
    async with launch("reporting") as app, app.state.pool.acquire() as conn:
        async with conn.transaction():
            for event in events:
                await projection.apply(conn, event)
            one_by_one = await rows(conn)
            await conn.execute("DELETE FROM enrollments WHERE project_id = $1", PROJECT)
            await projection.apply_batch(conn, [Traced(e, None) for e in events])
            await projection.apply_batch(conn, [Traced(events[-3], None)])  # a replay changes nothing
            batched = await rows(conn)
    assert len(one_by_one) == 6
    assert batched == one_by_one
    statuses = sorted(r[6] for r in batched)
    assert statuses == ["checked_in", "completed", "completed", "failed", "no_show", "withdrawn"]
