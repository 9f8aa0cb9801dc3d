"""Dead letters (issue 19), against real PostgreSQL (and NATS for the live consumer): handler
failures are counted apart from deliveries, replay reports applied / already applied / still
failing in each stream's version order, and a discard keeps the dead letter as an audited record;
the same over HTTP, for operators only."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI

from shared import deadletters
from shared.auth import JwtVerifier
from shared.bus import BusNames
from shared.consumer import ProjectionConsumer, _deliveries
from shared.deadletter_api import dead_letter_router
from shared.deadletters import NotPending, Replayed
from shared.devkeys import DEV_AUDIENCE, DEV_ISSUER
from shared.envelope import NewEvent
from shared.problems import install_problem_handlers
from shared.projection import Applier, Delivery, Outcome, checkpoint_key, rebuild
from tests.conftest import eventually
from tests.kernel import SERVICE, append_streams, background, connected_bus
from tests.tally import BatchTally, PoisonError, Tally, snapshot


def forgiving(base: type[Tally]) -> type[Tally]:
    """`base` whose handler fails on a `Poison` event until `fails` failures of it are recorded,
    then counts it (a transient fault: a lock timeout, a peer not ready); fails=None: until `fixed`.
    (Counted by the runner's record, not by calls: a failing batch calls a handler twice, once on
    the fast path and once more with a savepoint.)"""

    class Forgiving(base):  # type: ignore[valid-type,misc]
        def __init__(self, name: str, fails: int | None = None) -> None:
            super().__init__(name)
            self.fails, self.fixed = fails, False

        async def apply(self, conn, event):
            if event.type == "Poison" and not self.fixed:
                failed = await conn.fetchval(
                    "SELECT coalesce(max(failures), 0) FROM projection_failures"
                    " WHERE projection = $1 AND event_id = $2", self.name, event.id)
                if self.fails is None or failed < self.fails:
                    raise PoisonError(f"cannot apply {event.id} yet")
            await super().apply(conn, replace(event, type="Counted") if event.type == "Poison" else event)

    return Forgiving


class Guarded(Tally):
    """A read model with its own version guard: per stream, the latest event's `n` and version
    (in `events`); an event older than what the row holds changes nothing."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.fixed = False

    async def apply(self, conn, event):
        if event.type == "Poison" and not self.fixed:
            raise PoisonError(f"cannot apply {event.id}")
        await conn.execute(
            """INSERT INTO tally (projection, stream_id, events, total, seen) VALUES ($1, $2, $3, $4, ARRAY[$5::uuid])
               ON CONFLICT (projection, stream_id) DO UPDATE SET events = EXCLUDED.events, total = EXCLUDED.total,
                 seen = tally.seen || EXCLUDED.seen WHERE tally.events < EXCLUDED.events""",
            self.name, event.subject, event.stream_version, event.data["n"], event.id)


@pytest.fixture(params=[Tally, BatchTally], ids=["one_by_one", "batched"])
def base(request):
    return request.param


async def _failures(pool, name: str) -> list:
    return await pool.fetch("SELECT event_id, failures FROM projection_failures WHERE projection = $1", name)


async def _dead(pool, name: str) -> list:
    return await pool.fetch("SELECT * FROM dead_letters WHERE projection = $1 ORDER BY version", name)


async def _one_stream(pool, kinds: list[str]):
    [(stream, events)] = (await append_streams(
        pool, streams=1, per_stream=len(kinds), make=lambda i: NewEvent(kinds[i], {"n": i + 1}))).items()
    return stream, events


async def test_early_hand_backs_are_not_failures_and_a_good_event_is_not_parked(pool, base):
    """Events 2 and 3 arrive again and again before event 1 (each time handed back: EARLY), far
    more often than max_deliveries; then event 1 arrives and event 2's handler fails once."""
    name = f"dl_{uuid.uuid4().hex[:8]}"
    projection = forgiving(base)(name, fails=1)
    applier = Applier(projection, max_deliveries=3)
    stream, (e1, e2, e3) = await _one_stream(pool, ["Counted", "Poison", "Counted"])
    for n in range(1, 11):
        assert await applier.apply(pool, [Delivery(e2, n), Delivery(e3, n)]) == [Outcome.EARLY] * 2
    assert await _failures(pool, name) == [] and await _dead(pool, name) == []
    # The predecessor arrives; event 2's 11th delivery is its handler's first failure, not a 11th.
    assert await applier.apply(pool, [Delivery(e1), Delivery(e2, 11), Delivery(e3, 11)]) == \
        [Outcome.APPLIED, Outcome.FAILED, Outcome.EARLY]
    assert [(r["event_id"], r["failures"]) for r in await _failures(pool, name)] == [(e2.id, 1)]
    assert await applier.apply(pool, [Delivery(e2, 12), Delivery(e3, 12)]) == [Outcome.APPLIED] * 2
    assert await _dead(pool, name) == [], "nothing parked"
    assert await _failures(pool, name) == [], "the count is cleared once the event applies"
    assert (await snapshot(pool, name))[stream][:2] == (3, 1 + 2 + 3)


async def test_a_handler_failing_n_times_is_parked_exactly_at_the_nth_failure(pool, base):
    name = f"dl_{uuid.uuid4().hex[:8]}"
    projection = forgiving(base)(name)  # never forgives
    applier = Applier(projection, max_deliveries=3)
    stream, (e1, e2, e3) = await _one_stream(pool, ["Counted", "Poison", "Counted"])
    assert await applier.apply(pool, [Delivery(e1)]) == [Outcome.APPLIED]
    # Deliveries are already far past the limit (early hand-backs before): they do not count.
    for n, failures in ((20, 1), (21, 2)):
        assert await applier.apply(pool, [Delivery(e2, n), Delivery(e3, n)]) == [Outcome.FAILED, Outcome.EARLY]
        assert [r["failures"] for r in await _failures(pool, name)] == [failures]
        assert await _dead(pool, name) == []
    assert await applier.apply(pool, [Delivery(e2, 22), Delivery(e3, 22)]) == [Outcome.DEAD, Outcome.APPLIED]
    [dead] = await _dead(pool, name)
    assert (dead["event_id"], dead["failures"], dead["deliveries"]) == (e2.id, 3, 22)
    assert "PoisonError" in dead["error"] and await _failures(pool, name) == []


async def test_a_rebuild_still_parks_at_the_first_failure(pool):
    name = f"dl_{uuid.uuid4().hex[:8]}"
    projection = forgiving(Tally)(name)
    stream, events = await _one_stream(pool, ["Counted", "Poison", "Counted"])

    async def source():
        yield events

    assert await rebuild(pool, projection, source(), max_deliveries=5) == 3
    [dead] = await _dead(pool, name)
    assert (dead["event_id"], dead["failures"]) == (events[1].id, 1)
    assert (await snapshot(pool, name))[stream][0] == 2


class _Watching(ProjectionConsumer):
    """The live consumer, noting each event's delivery count as JetStream reports it."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.deliveries: Counter = Counter()

    async def handle(self, msgs: list) -> None:
        for m in msgs:
            event_id = uuid.UUID(m.headers["Nats-Msg-Id"]) if m.headers else None
            self.deliveries[event_id] = max(self.deliveries[event_id], _deliveries(m))
        await super().handle(msgs)


async def test_live_burst_of_hand_backs_then_one_failure_parks_nothing(pool, nats_url, namespace):
    names = BusNames(namespace)
    name = f"dl_{uuid.uuid4().hex[:8]}"
    projection = forgiving(Tally)(name, fails=1)
    stream, (e1, e2, e3) = await _one_stream(pool, ["Counted", "Poison", "Counted"])
    async with connected_bus(nats_url, names) as bus:
        js = bus.js()

        async def publish(env) -> None:
            await js.publish(names.subject(SERVICE, env.category, env.type), env.to_json(),
                             headers={"Nats-Msg-Id": str(env.id)})

        live = _Watching(pool, bus, names, projection, SERVICE, SERVICE, max_deliveries=3, ack_wait=5.0)
        async with background(live):
            await publish(e2)
            await publish(e3)

            async def handed_back_often() -> bool:
                return live.deliveries[e2.id] > 2 * 3

            await eventually(handed_back_often, message="event 2 handed back more than twice max_deliveries")
            await publish(e1)

            async def all_applied() -> bool:
                return (await snapshot(pool, name)).get(stream, (0,))[0] == 3

            await eventually(all_applied, message="all three applied")
    assert await _dead(pool, name) == [], "nothing parked"
    assert await _failures(pool, name) == [], "its one failure cleared"


async def _parked(pool, projection, kinds):
    """A stream of `kinds` applied live with max_deliveries=1: every Poison is parked at once."""
    stream, events = await _one_stream(pool, kinds)
    outcomes = await Applier(projection, max_deliveries=1).apply(pool, [Delivery(e) for e in events])
    assert outcomes == [Outcome.DEAD if k == "Poison" else Outcome.APPLIED for k in kinds]
    return stream, events, [r["id"] for r in await _dead(pool, projection.name)]


async def test_replay_of_a_stream_applies_in_version_order_and_reports_each(pool):
    projection = forgiving(Tally)(f"dl_{uuid.uuid4().hex[:8]}")
    stream, events, (d2, d4) = await _parked(pool, projection, ["Counted", "Poison", "Counted", "Poison", "Counted"])
    key = checkpoint_key(events[0])
    before = await snapshot(pool, projection.name)

    # Not fixed: the first still fails, the second is held back behind it; nothing changes.
    still = await deadletters.replay_stream(pool, projection, key)
    assert [(r.id, r.outcome) for r in still] == [(d2, Replayed.STILL_FAILING), (d4, Replayed.STILL_FAILING)]
    assert "handler failed again: PoisonError" in still[0].detail and f"dead letter {d2}" in still[1].detail
    # Asked for by id, the later one is held back too: order is kept whichever way one asks.
    assert (await deadletters.replay(pool, projection, d4)).outcome is Replayed.STILL_FAILING
    assert await snapshot(pool, projection.name) == before
    rows = await _dead(pool, projection.name)
    assert [(r["replayed_at"], r["discarded_at"]) for r in rows] == [(None, None)] * 2
    assert all("PoisonError" in r["error"] for r in rows), "the error is kept"

    projection.fixed = True
    done = await deadletters.replay_stream(pool, projection, key)
    assert [(r.id, r.version, r.outcome) for r in done] == [(d2, 2, Replayed.APPLIED), (d4, 4, Replayed.APPLIED)]
    count, total, _ = (await snapshot(pool, projection.name))[stream]
    assert (count, total) == (5, 1 + 2 + 3 + 4 + 5)
    seen = (await pool.fetchval("SELECT seen FROM tally WHERE projection = $1", projection.name))[-2:]
    assert seen == [events[1].id, events[3].id], "version 2 before version 4"
    assert [r["replay_result"] for r in await _dead(pool, projection.name)] == ["applied", "applied"]
    assert await deadletters.replay_stream(pool, projection, key) == [], "nothing pending"
    with pytest.raises(NotPending, match="already replayed"):
        await deadletters.replay(pool, projection, d2)


async def test_replay_reports_already_applied_when_the_version_guard_covers_the_event(pool):
    projection = Guarded(f"dl_{uuid.uuid4().hex[:8]}")
    stream, events, (d2,) = await _parked(pool, projection, ["Counted", "Poison", "Counted"])
    before = await snapshot(pool, projection.name)
    assert before[stream][:2] == (3, 3), "version 3 is the row's"
    projection.fixed = True
    [r] = await deadletters.replay_stream(pool, projection, checkpoint_key(events[0]))
    assert (r.id, r.outcome) == (d2, Replayed.ALREADY_APPLIED), r
    assert await snapshot(pool, projection.name) == before
    [row] = await _dead(pool, projection.name)
    assert row["replayed_at"] is not None and row["replay_result"] == "already_applied"


async def test_discard_keeps_an_audited_record_and_lets_the_stream_go_on(pool):
    projection = forgiving(Tally)(f"dl_{uuid.uuid4().hex[:8]}")
    stream, events, (d2, d4) = await _parked(pool, projection, ["Counted", "Poison", "Counted", "Poison"])
    for reason, by in (("  ", "ops-li"), ("a test event, never to apply", " ")):
        with pytest.raises(ValueError):
            await deadletters.discard(pool, d2, reason, by)
    with pytest.raises(NotPending, match="no dead letter"):
        await deadletters.discard(pool, 10**9, "why", "ops-li")
    done = await deadletters.discard(pool, d2, "a test event, never to apply", "ops-li")
    assert (done["id"], done["discarded_by"], done["discard_reason"]) == (d2, "ops-li", "a test event, never to apply")
    with pytest.raises(NotPending, match="discarded .* by ops-li: a test event"):
        await deadletters.discard(pool, d2, "again", "ops-li")
    with pytest.raises(NotPending, match="discarded"):
        await deadletters.replay(pool, projection, d2)

    # The discarded one no longer holds the stream back; the pending gauge no longer counts it.
    projection.fixed = True
    [r] = await deadletters.replay_stream(pool, projection, checkpoint_key(events[0]))
    assert (r.id, r.outcome) == (d4, Replayed.APPLIED)
    assert (await snapshot(pool, projection.name))[stream][0] == 3, "the discarded event never applied"

    # A rebuild starts the read model over and parks again what fails; the records stay.
    projection.fixed = False

    async def source():
        yield events

    await rebuild(pool, projection, source())
    rows = await _dead(pool, projection.name)
    states = sorted((r["id"], r["discarded_at"] is not None, r["replayed_at"] is not None) for r in rows)
    assert states[:2] == [(d2, True, False), (d4, False, True)]
    assert len(rows) == 4, "both poisons parked again, pending"


async def test_http_dead_letters_for_operators_with_the_token_as_the_discarding_operator(pool, keys_dir, token):
    """The HTTP door (shared/deadletter_api.py) on the same database: list, replay a stream in order,
    discard with a reason recorded under the token's principal; bad input is a 4xx problem."""
    projection = forgiving(Tally)(f"dl_{uuid.uuid4().hex[:8]}")
    stream, events, (d2, d4) = await _parked(pool, projection, ["Counted", "Poison", "Counted", "Poison"])
    app = FastAPI()
    install_problem_handlers(app)
    app.state.pool = pool
    app.state.verifier = JwtVerifier(keys_dir / "jwks.json", DEV_ISSUER, DEV_AUDIENCE)
    app.include_router(dead_letter_router([projection]))
    ops = {"Authorization": f"Bearer {token('ops', sub='li.wei')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as client:
        admin = {"Authorization": f"Bearer {token('province_admin', org='610000')}"}
        refused = await client.get("/v1/dead-letters", headers=admin)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden_role"
        listed = (await client.get(f"/v1/dead-letters?projection={projection.name}", headers=ops)).json()
        assert [(d["id"], d["state"], d["failures"]) for d in listed["dead_letters"]] == [
            (d2, "pending", 1), (d4, "pending", 1)]
        one = (await client.get(f"/v1/dead-letters/{d2}", headers=ops)).json()
        assert one["envelope"]["id"] == str(events[1].id)

        key = checkpoint_key(events[0])
        still = (await client.post("/v1/dead-letters/replay", json={"stream_id": key}, headers=ops)).json()
        assert [(r["id"], r["outcome"]) for r in still["replayed"]] == [(d2, "still_failing"), (d4, "still_failing")]

        for body in ({"reason": "  "}, {"reason": "ok", "by": "someone else"}, {}):
            bad = await client.post(f"/v1/dead-letters/{d2}/discard", json=body, headers=ops)
            assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json"), \
                bad.text
        gone = await client.post(f"/v1/dead-letters/{d2}/discard", json={"reason": "测试数据"}, headers=ops)
        assert gone.status_code == 200, gone.text
        assert (gone.json()["state"], gone.json()["discarded_by"], gone.json()["discard_reason"]) == (
            "discarded", "ops:li.wei", "测试数据")
        again = await client.post(f"/v1/dead-letters/{d2}/discard", json={"reason": "again"}, headers=ops)
        assert again.status_code == 409 and again.json()["code"] == "not_pending"
        missing = await client.post("/v1/dead-letters/999999999/replay", headers=ops)
        assert missing.status_code == 404 and missing.json()["code"] == "dead_letter_not_found"

        projection.fixed = True
        done = await client.post(f"/v1/dead-letters/{d4}/replay", headers=ops)
        assert done.status_code == 200 and (done.json()["outcome"], done.json()["version"]) == ("applied", 4)
        assert (await client.post(f"/v1/dead-letters/{d4}/replay", headers=ops)).status_code == 409
        states = (await client.get("/v1/dead-letters?state=all", headers=ops)).json()["dead_letters"]
        assert {(d["id"], d["state"]) for d in states} >= {(d2, "discarded"), (d4, "replayed")}
