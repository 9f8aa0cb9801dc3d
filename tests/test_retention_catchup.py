"""A consumer past JetStream retention recovers from the owner's feed (issue 19, acceptance 3).

Enrollment runs with a stream that keeps only its last few messages. Reporting follows it, is
stopped, and enrollment records a school year's worth of events meanwhile: the stream discards
most of them before reporting's durable consumer ever received them. Restarted, reporting sees
the gap, reads what it missed from enrollment's real `GET /v1/events` (the service app itself,
in-process), and resumes from JetStream. Its read models must then equal a fresh rebuild from
enrollment's record, and no event may have been applied twice."""

from __future__ import annotations

import uuid

import nats
import pytest

from services.reporting.projector import rebuild_all
from shared.bus import BusNames
from shared.db import drop_database, with_database
from shared.devkeys import mint_token
from tests.conftest import caught_up, client_for, eventually, peers
from tests.everything import snapshot
from tests.reporting.scenario import C1, C2, CITY, PASSED, PROVINCE, SAT, Scenario

KEPT = 8  # messages enrollment's stream keeps
FROM_ENROLLMENT = ("reporting_directory", "reporting_enrollments")


@pytest.fixture
async def reporting_db(pg_server_url):
    url = with_database(pg_server_url, f"t_rep_{uuid.uuid4().hex[:10]}")
    yield url
    await drop_database(url)


async def _durables_behind(nats_url: str, namespace: str) -> list[tuple[str, int, int]]:
    """(durable, its last delivered sequence, the stream's first) for reporting's consumers of
    enrollment whose next message the stream no longer holds."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        stream = BusNames(namespace).stream("enrollment")
        first = (await js.stream_info(stream)).state.first_seq
        out = []
        for name in FROM_ENROLLMENT:
            info = await js.consumer_info(stream, BusNames(namespace).consumer(name))
            if info.delivered.stream_seq + 1 < first:
                out.append((name, info.delivered.stream_seq, first))
        return out
    finally:
        await nc.close()


async def _at_head(reporting, enrollment) -> None:
    async def done() -> bool:
        return all([await caught_up(reporting, name, enrollment) for name in FROM_ENROLLMENT])

    await eventually(done, timeout=60, message="reporting's projections at enrollment's head")


async def test_a_consumer_past_retention_catches_up_from_the_owners_feed(
        launch, keys_dir, nats_url, module_namespace, reporting_db):
    token = mint_token(keys_dir, "service", sub="reporting")

    def reporting():
        return launch("reporting", database_url=reporting_db, enrollment_url="http://enrollment", service_token=token)

    async with launch("enrollment", nats_stream_max_msgs=KEPT) as enrollment:
        s = Scenario(enrollment, client_for(enrollment, keys_dir, "http://enrollment"))
        async with reporting() as live, peers({"enrollment": enrollment, "reporting": live}):
            await s.register()  # orgs, hosts, teachers: reporting follows them live
            await _at_head(live, enrollment)
            before = await enrollment.state.pool.fetchval("SELECT count(*) FROM events")

        # Reporting is down. Enrollment goes on: two projects run from plan to close.
        await s.project("P1", "national", "H1", PROVINCE, "2023-07-15", "2023-07-24", 90, {C1: 3, C2: 2})
        await s.project("P3", "municipal", "H3", CITY, "2023-09-01", "2023-09-05", 30, {C1: 2, C2: 0})
        await s.act("2023-07-01", "P1", "nominate", "T1", "T2", "U1", "U2")
        await s.act("2023-07-15", "P1", "check-in", "T1", "T2", "U1")
        await s.lifecycle("2023-07-15", "P1", "start")
        await s.bulletin("P1", 1, "2023-07-20")
        await s.act("2023-07-20", "P1", "assessment", "T1", "U1", body=PASSED)
        await s.act("2023-07-24", "P1", "complete", "T1", "U1")
        await s.act("2023-07-24", "P1", "no-show", "U2", body={"special_reason": False})
        await s.act("2023-07-24", "P1", "evaluation", "T1", "U1", body=SAT)
        await s.lifecycle("2023-07-24", "P1", "close")
        total = await enrollment.state.pool.fetchval("SELECT count(*) FROM events")
        assert total - before > 3 * KEPT

        # Every event is published, and the stream has discarded what reporting never received.
        stream = BusNames(module_namespace).stream("enrollment")

        async def published() -> bool:
            nc = await nats.connect(nats_url)
            try:
                return (await nc.jetstream().stream_info(stream)).state.last_seq >= total
            finally:
                await nc.close()

        await eventually(published, message="enrollment's relay to publish every event")
        behind = await _durables_behind(nats_url, module_namespace)
        assert len(behind) == len(FROM_ENROLLMENT), f"the stream should have discarded unread messages: {behind}"

        async with reporting() as back, peers({"enrollment": enrollment, "reporting": back}) as clients:
            await _at_head(back, enrollment)
            caught = {c.projection.name: c.catchups for c in back.state.consumers if c.source == "enrollment"}
            assert all(caught[name] >= 1 for name in FROM_ENROLLMENT), caught
            # What an operator sees of it: GET /v1/projections names the catch-ups and why.
            async with client_for(back, keys_dir, "http://reporting")("ops") as ops:
                shown = (await ops.get("/v1/projections")).json()["projections"]
            mine = {p["projection"]: p for p in shown if p["source"] == "enrollment"}
            for name in FROM_ENROLLMENT:
                assert mine[name]["catchups"] >= 1 and mine[name]["behind_reason"], mine[name]
                assert not mine[name]["catching_up"] and not mine[name]["stalled"], mine[name]
            # Exactly once: each projection counts every event it applied, across its live runs and the
            # catch-up — every event of the streams it follows (Projection.follows), those it does not
            # model too; one applied twice would count twice.
            streams = [r[0] for r in await enrollment.state.pool.fetch("SELECT stream_id FROM events")]
            for p in back.state.spec.projections:
                if p.name in FROM_ENROLLMENT:
                    due = sum(p.follows is None or stream.split("-", 1)[0] in p.follows for stream in streams)
                    applied = await back.state.pool.fetchval(
                        "SELECT applied FROM projection_state WHERE projection = $1", p.name)
                    assert applied == due > 0, f"{p.name}: {applied} applications of {due} events"
            assert await back.state.pool.fetchval("SELECT count(*) FROM dead_letters") == 0

            tables = {t for p in back.state.spec.projections if p.name in FROM_ENROLLMENT for t in p.tables}
            live = await snapshot(back.state.pool, tables)
            assert len(live["enrollments"]) == 4 and len(live["projects"]) == 2, "the missed events are in"
            await rebuild_all(back, "feed", clients, models=FROM_ENROLLMENT)
            rebuilt = await snapshot(back.state.pool, tables)
            for table in sorted(tables):
                assert rebuilt[table] == live[table], f"reporting.{table} differs from a fresh rebuild"
