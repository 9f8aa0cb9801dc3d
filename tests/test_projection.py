"""Projection runner against real PostgreSQL and NATS: duplicate and out-of-order delivery,
poison messages, rebuilds from the stream and from the owner's HTTP feed."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from shared.bus import BusNames
from shared.consumer import ProjectionConsumer
from shared.envelope import Envelope, NewEvent
from shared.projection import Delivery, Outcome, replay_dead_letter
from shared.service import ServiceSpec, create_app
from tests.conftest import eventually, running
from tests.kernel import SERVICE, append_streams, background, connected_bus, consumer, expected_tally, relay
from tests.tally import BatchTally, Tally, applied_count, snapshot


@pytest.fixture(params=["one_by_one", "batched"])
def make_tally(request):
    """Each runner test runs against a projection applied event by event and one with a
    set-based apply_batch (whose failures fall back to event by event)."""
    return Tally if request.param == "one_by_one" else BatchTally


def used_batches(projection) -> None:
    if isinstance(projection, BatchTally):
        assert projection.batches > 0, "the batch path ran"


@pytest.fixture(autouse=True)
async def empty_outbox(pool):
    # Earlier tests in this module leave unpublished rows; a relay here would carry them over.
    await pool.execute("DELETE FROM outbox")


async def _publish_raw(bus, names, envelopes, msg_id_prefix: str) -> None:
    js = bus.js()
    for env in envelopes:
        subject = names.subject("enrollment", env.category, env.type)
        await js.publish(subject, env.to_json(), headers={"Nats-Msg-Id": f"{msg_id_prefix}{env.id}"})


async def test_every_message_delivered_twice_gives_the_single_delivery_read_model(
        pool, db_url, nats_url, namespace, make_tally):
    names = BusNames(namespace)
    by_stream = await append_streams(pool, streams=8, per_stream=6)
    everything = sorted((e for evs in by_stream.values() for e in evs), key=lambda e: e.position)
    projection = make_tally(f"p_{namespace}")
    async with connected_bus(nats_url, names) as bus:
        # Each event reaches the stream twice, under two message ids, so JetStream's own
        # de-duplication cannot help: only the projection's checkpoints can.
        await _publish_raw(bus, names, everything, "first-")
        await _publish_raw(bus, names, everything, "again-")
        live = consumer(pool, bus, names, projection)
        async with background(live):
            await eventually(lambda: _consumed(live), message="all 96 deliveries settled")
    assert await snapshot(pool, projection.name) == expected_tally(by_stream)
    used_batches(projection)


async def test_out_of_order_delivery_applies_each_stream_in_version_order(pool, nats_url, namespace, make_tally):
    names = BusNames(namespace)
    by_stream = await append_streams(pool, streams=3, per_stream=5)
    projection = make_tally(f"p_{namespace}")
    async with connected_bus(nats_url, names) as bus:
        backwards = sorted((e for evs in by_stream.values() for e in evs), key=lambda e: -e.position)
        await _publish_raw(bus, names, backwards, "")
        async with background(consumer(pool, bus, names, projection)):
            await eventually(lambda: _applied(pool, projection.name, 15), message="all applied")
    rows = await pool.fetch("SELECT stream_id, seen FROM tally WHERE projection = $1", projection.name)
    for row in rows:
        assert list(row["seen"]) == [e.id for e in by_stream[row["stream_id"]]]
    used_batches(projection)


async def test_poison_message_is_dead_lettered_after_n_deliveries_and_later_events_apply(
        pool, db_url, nats_url, namespace, make_tally):
    """With a batch projection, the poison fails the whole batch: the runner redoes it event by
    event, so the poison alone is retried and dead-lettered while its neighbours apply."""
    names = BusNames(namespace)
    projection = make_tally(f"p_{namespace}")
    kinds = ["Counted", "Poison", "Counted", "Counted"]
    by_stream = await append_streams(
        pool, streams=1, per_stream=4, make=lambda i: NewEvent(kinds[i], {"n": i}))
    [(stream, events)] = by_stream.items()
    async with connected_bus(nats_url, names) as bus:
        async with background(relay(db_url, bus, names), consumer(pool, bus, names, projection,
                                                                    max_deliveries=3)):
            await eventually(lambda: _streams_done(pool, projection.name, {stream: events[:3]}),
                             message="events after the poison")
        dead = await pool.fetch("SELECT * FROM dead_letters WHERE projection = $1", projection.name)
    assert len(dead) == 1
    # /metrics: the parked event and how far the projection got (the last event's store position).
    labels = {"service": SERVICE, "projection": projection.name}
    assert REGISTRY.get_sample_value("tt_dead_letters", labels) == 1
    assert REGISTRY.get_sample_value("tt_projection_last_position", labels) == events[-1].position
    assert dead[0]["event_id"] == events[1].id and dead[0]["deliveries"] == 3
    assert "PoisonError" in dead[0]["error"]
    assert await snapshot(pool, projection.name) == {stream: (3, 0 + 2 + 3, sorted(
        str(e.id) for e in events if e.type == "Counted"))}
    # Replaying the dead letter with a fixed handler applies it.
    fixed = _Forgiving(projection.name)
    assert await replay_dead_letter(pool, fixed, dead[0]["id"]) is True
    assert await replay_dead_letter(pool, fixed, dead[0]["id"]) is False  # once only
    assert (await snapshot(pool, projection.name))[stream][0] == 4


class _Forgiving(Tally):
    async def apply(self, conn, event):
        if event.type == "Poison":
            event = event.__class__(**{**event.__dict__, "type": "Counted"}) if hasattr(event, "__dict__") \
                else _as_counted(event)
        await super().apply(conn, event)


def _as_counted(event):
    from dataclasses import replace
    return replace(event, type="Counted")


async def test_feed_requires_a_reading_role_and_returns_cloudevents(settings_for, token, pool):
    app = create_app(ServiceSpec(name="enrollment", title="t"), settings_for("enrollment"))
    await append_streams(pool, streams=1, per_stream=2)
    async with running(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as client:
            assert (await client.get("/v1/events")).status_code == 401
            teacher = await client.get("/v1/events", headers={"Authorization": f"Bearer {token('teacher')}"})
            assert teacher.status_code == 403
            assert teacher.headers["content-type"].startswith("application/problem+json")
            ok = await client.get("/v1/events?after=0&limit=1",
                                  headers={"Authorization": f"Bearer {token('service')}"})
            assert ok.status_code == 200
            doc = orjson.loads(ok.content)
            assert len(doc["events"]) == 1 and isinstance(doc["next"], str)  # an opaque cursor
            second = await client.get(f"/v1/events?after={doc['next']}&limit=1",
                                      headers={"Authorization": f"Bearer {token('service')}"})
            assert [e["position"] for e in orjson.loads(second.content)["events"]] == [
                doc["events"][0]["position"] + 1]
            assert doc["events"][0]["specversion"] == "1.0" and uuid.UUID(doc["events"][0]["id"])
            bad = await client.get("/v1/events?after=-1", headers={"Authorization": f"Bearer {token('service')}"})
            assert bad.status_code == 422 and bad.json()["code"] == "validation_error"


async def _consumed(live) -> bool:
    return live.lag == 0 and live.applied > 0


async def _applied(pool, name: str, n: int) -> bool:
    return await applied_count(pool, name) >= n


async def _streams_done(pool, name, by_stream) -> bool:
    snap = await snapshot(pool, name)
    return all(s in snap and snap[s][0] == len(evs) for s, evs in by_stream.items())


class _DiesBeforeAck(ProjectionConsumer):
    """Dies like a killed process between the read-model commit and the acks: applies (and
    commits) every batch it fetches, then stops dead without acking or nak'ing anything."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.committed = 0

    async def handle(self, msgs: list) -> None:
        deliveries = [Delivery(Envelope.from_json(m.data), m.metadata.num_delivered, None) for m in msgs]
        outcomes = await self.applier.apply(self.pool, deliveries)  # commits
        self.committed += sum(o is Outcome.APPLIED for o in outcomes)
        raise asyncio.CancelledError  # killed: no ack reaches NATS


async def test_projection_crashed_between_commit_and_ack_redelivery_changes_nothing(
        pool, nats_url, namespace, make_tally):
    names = BusNames(namespace)
    by_stream = await append_streams(pool, streams=6, per_stream=5)
    everything = sorted((e for evs in by_stream.values() for e in evs), key=lambda e: e.position)
    projection = make_tally(f"p_{namespace}")
    async with connected_bus(nats_url, names) as bus:
        await _publish_raw(bus, names, everything, "")
        doomed = _DiesBeforeAck(pool, bus, names, projection, SERVICE, SERVICE, ack_wait=2.0)
        task = asyncio.create_task(doomed.run(asyncio.Event()))
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 20)
        assert doomed.committed == 30, "the whole batch committed before the 'crash'"
        assert await snapshot(pool, projection.name) == expected_tally(by_stream)
        # The restarted consumer (same durable) gets all 30 again once ack_wait expires.
        live = consumer(pool, bus, names, projection, ack_wait=2.0)
        redelivered: list[int] = []
        original = live.handle

        async def counting(msgs):
            redelivered.extend(m.metadata.num_delivered for m in msgs)
            await original(msgs)

        live.handle = counting
        async with background(live):
            await eventually(lambda: _all_acked(live, redelivered, 30), message="all 30 redelivered and acked")
    assert len(redelivered) >= 30 and min(redelivered) >= 2, "every message came back at least once more"
    assert live.applied == 0, "the redelivery applied nothing"
    assert await snapshot(pool, projection.name) == expected_tally(by_stream)


async def _all_acked(live, redelivered, n: int) -> bool:
    return len(redelivered) >= n and live.lag == 0


class Hiccups(ProjectionConsumer):
    """Its first three turns die after subscribing, as when NATS answers one call and not the next."""

    failures = 0

    async def _consume(self, sub, stop):
        if self.failures < 3:
            self.failures += 1
            raise ConnectionError("NATS went away mid-turn")
        await super()._consume(sub, stop)


async def test_a_consumer_that_subscribes_again_holds_no_more_than_one_that_did_not(pool, nats_url, namespace):
    """Every turn of the consumer's loop subscribes anew (after an error, after a catch-up); the
    turn's inbox must go with it, or each turn leaves a subscription behind, here and on the server."""
    names = BusNames(namespace)
    by_stream = await append_streams(pool, streams=2, per_stream=2)
    async with connected_bus(nats_url, names) as bus:
        await _publish_raw(bus, names, [e for evs in by_stream.values() for e in evs], "")
        # nats-py keeps no public count of a client's subscriptions; its own table is it.
        idle = len(bus.nc._subs)
        steady = Tally(f"p_{namespace}")
        async with background(consumer(pool, bus, names, steady)):
            await eventually(lambda: _applied(pool, steady.name, 4), message="the steady consumer applied all")
            held = len(bus.nc._subs) - idle
        assert len(bus.nc._subs) == idle, "a stopped consumer holds no subscription"
        flaky = Hiccups(pool, bus, names, Tally(f"q_{namespace}"), SERVICE, SERVICE, ack_wait=5.0)
        async with background(flaky):
            await eventually(lambda: _applied(pool, f"q_{namespace}", 4), message="the flaky consumer applied all")
            assert flaky.failures == 3
            assert len(bus.nc._subs) - idle == held
