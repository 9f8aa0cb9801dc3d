"""One trace from the HTTP command through the event store, the outbox relay and NATS
headers into a projection — real PostgreSQL and NATS, spans captured in memory."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import telemetry
from shared.bus import BusNames
from shared.projection import Projection
from shared.service import ServiceSpec, create_app
from tests.conftest import eventually, running
from tests.kernel import background, connected_bus, consumer
from tests.test_service_kernel import REGISTRY, widget_router


class WidgetNames(Projection):
    sources = ("enrollment",)
    handles = frozenset({"WidgetMade"})

    def __init__(self, name: str) -> None:
        self.name = name

    async def apply(self, conn, event) -> None:
        pass

    async def reset(self, conn) -> None:
        pass


async def test_command_trace_continues_through_relay_and_nats_into_the_projection(
        settings_for, token, nats_url, namespace, pool):
    exporter = InMemorySpanExporter()
    telemetry.setup_tracing("enrollment", exporter)
    app = create_app(ServiceSpec(name="enrollment", title="t", routers=[widget_router()], registry=REGISTRY),
                     settings_for("enrollment"))
    projection = WidgetNames(f"w_{namespace}")
    async with running(app), connected_bus(nats_url, BusNames(namespace)) as bus:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
            resp = await client.post("/v1/widgets", json={"name": "投影仪", "size": 1},
                                     headers={"Authorization": f"Bearer {token('county_admin', '610102')}"})
            assert resp.status_code == 201
        async with background(consumer(pool, bus, BusNames(namespace), projection)):
            def spans(prefix: str):
                return [s for s in exporter.get_finished_spans() if s.name.startswith(prefix)]

            async def applied() -> bool:
                return any(projection.name in s.name for s in spans("apply "))

            await eventually(applied, message="projection span")
    [server] = [s for s in exporter.get_finished_spans()
                if s.attributes.get("http.route") == "/v1/widgets" and s.parent is None]
    [publish] = spans("publish WidgetMade")
    [apply] = [s for s in spans("apply ") if projection.name in s.name]
    trace_id = server.context.trace_id
    assert publish.context.trace_id == trace_id and apply.context.trace_id == trace_id
    assert apply.parent.span_id == publish.context.span_id, "the projection continues from the NATS headers"
