"""Rebuilding a projection from position 0 — from the owner's HTTP feed, from the start of
the JetStream stream, and from the store — gives exactly the live read model. Its own module,
so the database holds only this test's events and "everything" is well defined."""

from __future__ import annotations

import httpx

from shared.bus import BusNames
from shared.consumer import stream_source
from shared.feed import feed_source, store_source
from shared.projection import rebuild
from shared.service import ServiceSpec, create_app
from tests.conftest import eventually, running
from tests.kernel import append_streams, background, connected_bus, consumer, expected_tally, relay, store
from tests.tally import Tally, snapshot


async def test_rebuild_from_zero_via_feed_and_via_stream_equals_the_live_model(
        pool, db_url, nats_url, namespace, settings_for, token):
    names = BusNames(namespace)
    by_stream = await append_streams(pool, streams=10, per_stream=7)
    projection = Tally(f"p_{namespace}")
    async with connected_bus(nats_url, names) as bus:
        async with background(relay(db_url, bus, names), consumer(pool, bus, names, projection)):
            await eventually(lambda: _streams_done(pool, projection.name, by_stream), message="live caught up")
        live = await snapshot(pool, projection.name)
        assert live == expected_tally(by_stream)

        # From the owner's HTTP feed, served by the real service app.
        app = create_app(ServiceSpec(name="enrollment", title="t"), settings_for("enrollment"))
        async with running(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://enrollment") as client:
                n = await rebuild(pool, projection, feed_source("http://enrollment", token("service"),
                                                               limit=13, client=client))
        assert n == 70
        assert await snapshot(pool, projection.name) == live

        # From the start of the JetStream stream.
        await rebuild(pool, projection, stream_source(bus, names, "enrollment", batch=16))
        assert await snapshot(pool, projection.name) == live

        # And from the store directly (a service rebuilding its own read model).
        await rebuild(pool, projection, store_source(pool, store, limit=9))
        assert await snapshot(pool, projection.name) == live



async def _streams_done(pool, name, by_stream) -> bool:
    snap = await snapshot(pool, name)
    return all(s in snap and snap[s][0] == len(evs) for s, evs in by_stream.items())
