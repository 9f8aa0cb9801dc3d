"""The same completion delivered three times — over real JetStream, ahead of its own predecessors
and interleaved with an unrelated enrollment's events — awards its hours once; so does
re-applying it directly and rebuilding the intake model."""

from __future__ import annotations

import uuid
from dataclasses import replace

import nats
import pytest

from services.credits.projector.intake import IntakeProjection, award_ids
from shared.bus import BusNames
from shared.projection import Applier, Delivery, Outcome, rebuild
from tests.conftest import eventually
from tests.credits.given import enrollment_event, given_enrollment, jiangxi_tree, ok, teacher

SCHOOL = "360102001"


def enrollment_stream(teacher_id: str, outcome: str, hours: float = 60) -> list:
    """TeacherNominated v1, TeacherCheckedIn v2, then EnrollmentCompleted or EnrollmentFailed v3."""
    eid = str(uuid.uuid4())
    ids = {"enrollment_id": eid, "project_id": str(uuid.uuid4()), "teacher_id": teacher_id, "region_code": "360102"}
    last = {"host_id": None, "level": "provincial", "year": 2023, "hours": hours, "hour_category": "online",
            "completed_on": "2023-07-14"} if outcome == "EnrollmentCompleted" else {"reason": "缺勤",
                                                                                    "failed_on": "2023-07-14"}
    return [enrollment_event("TeacherNominated", f"enrollment-{eid}", ids, 1),
            enrollment_event("TeacherCheckedIn", f"enrollment-{eid}", {**ids, "checked_in_on": "2023-07-10"}, 2),
            enrollment_event(outcome, f"enrollment-{eid}", {**ids, **last}, 3)]


async def settled(nc, names: BusNames) -> bool:
    info = await nc.jetstream().consumer_info(names.stream("enrollment"), names.consumer(IntakeProjection.name))
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_a_completion_delivered_three_times_out_of_order_awards_once(credits_app, nats_url, module_namespace,
                                                                            as_role, cpool):
    await given_enrollment(credits_app, *jiangxi_tree())
    t, other = teacher(SCHOOL), teacher(SCHOOL)
    tid = t.data["teacher_id"]
    await given_enrollment(credits_app, t, other)
    nominated, checked_in, done = enrollment_stream(tid, "EnrollmentCompleted")
    unrelated = enrollment_stream(other.data["teacher_id"], "EnrollmentFailed")
    names = BusNames(module_namespace)
    # The completion first (ahead of its own v1, v2), the unrelated enrollment in between, copies after.
    order = [done, unrelated[0], done, nominated, unrelated[1], checked_in, unrelated[2], done]
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for i, env in enumerate(order):
            # Distinct Nats-Msg-Id: each copy gets past JetStream's de-duplication, as after its window.
            await js.publish(names.subject("enrollment", env.category, env.type), env.to_json(),
                             headers={"Nats-Msg-Id": f"{env.id}-{i}"})

        async def all_acked() -> bool:
            awarded = await cpool.fetchval("SELECT count(*) FROM events WHERE type = 'HoursAwarded'"
                                           " AND data->>'teacher_id' = $1", tid)
            return awarded >= 1 and await settled(nc, names)

        await eventually(all_acked, timeout=30, message="every copy delivered and acked")
    finally:
        await nc.close()
    rows = await cpool.fetch("SELECT event_id, data FROM events WHERE type = 'HoursAwarded'")
    mine = [r for r in rows if r["data"]["teacher_id"] == tid]
    assert len(mine) == 1 and mine[0]["event_id"] == award_ids(done.id)[0]
    assert not [r for r in rows if r["data"]["teacher_id"] == other.data["teacher_id"]]  # failed: nothing
    doc = await ok(await as_role("teacher", sub=tid).get(f"/v1/teachers/{tid}/transcript"))
    assert [(e["hours"], e["source"]["event_id"]) for e in doc["entries"]] == [(60, str(done.id))]


async def test_reapplying_and_rebuilding_never_award_twice(credits_app, cpool):
    t = teacher(SCHOOL)
    tid = t.data["teacher_id"]
    await given_enrollment(credits_app, t)
    events = enrollment_stream(tid, "EnrollmentCompleted", hours=45.5)
    intake = next(p for p in credits_app.state.spec.projections if isinstance(p, IntakeProjection))
    applier = Applier(intake)
    await applier.apply(cpool, [Delivery(e) for e in (*events, events[2], events[2])])  # copies in one batch
    await applier.apply(cpool, [Delivery(events[2])])  # and a later redelivery
    async with cpool.acquire() as conn, conn.transaction():
        await intake.apply(conn, events[2])  # even with no checkpoint at all (a rebuild's view)

    async def count() -> int:
        return await cpool.fetchval("SELECT count(*) FROM entries WHERE teacher_id = $1", uuid.UUID(tid))

    assert await count() == 1
    assert await cpool.fetchval("SELECT hours_tenths FROM entries WHERE teacher_id = $1", uuid.UUID(tid)) == 455


    async def source():  # a rebuild: checkpoints reset, the whole history applied again
        yield [t, *events]

    await rebuild(cpool, intake, source())
    assert await count() == 1 and await cpool.fetchval(
        "SELECT count(*) FROM teacher_schools WHERE teacher_id = $1", uuid.UUID(tid)) == 1


@pytest.mark.parametrize("hours", [0, 0.04])
async def test_a_completion_without_hours_records_nothing(credits_app, cpool, hours):
    t = teacher(SCHOOL)
    await given_enrollment(credits_app, t, *enrollment_stream(t.data["teacher_id"], "EnrollmentCompleted", hours))
    assert await cpool.fetchval("SELECT count(*) FROM entries WHERE teacher_id = $1",
                                uuid.UUID(t.data["teacher_id"])) == 0


async def test_a_completion_whose_year_comes_as_a_whole_float_is_awarded(credits_app, cpool):
    # The published schema types `year` as an integer, which admits 2023.0: the award must come
    # out with an int project_year (its own model is strict), not fail until it is dead-lettered.
    t = teacher(SCHOOL)
    tid = t.data["teacher_id"]
    await given_enrollment(credits_app, t)
    events = enrollment_stream(tid, "EnrollmentCompleted")
    completion = events[2]
    events[2] = replace(completion, data={**completion.data, "year": 2023.0, "hours": 60.0})
    intake = next(p for p in credits_app.state.spec.projections if isinstance(p, IntakeProjection))
    assert await Applier(intake).apply(cpool, [Delivery(e) for e in events]) == [Outcome.APPLIED] * 3
    data = await cpool.fetchval("SELECT data FROM events WHERE type = 'HoursAwarded' AND data->>'teacher_id' = $1", tid)
    assert data["source"]["project_year"] == 2023 and type(data["source"]["project_year"]) is int
    assert await cpool.fetchval("SELECT hours_tenths FROM entries WHERE teacher_id = $1", uuid.UUID(tid)) == 600
