"""shared.telemetry: trace propagation, HTTP instrumentation, metrics and JSON logs.

Pure: no database or NATS. The tracer provider is process-global and can be set only once, so
every test adds its own InMemorySpanExporter and reads only that one.
"""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from shared import telemetry


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    exp = InMemorySpanExporter()
    telemetry.setup_tracing("test-telemetry", exporter=exp)
    return exp


@pytest.fixture
def restore_logging():
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access"]
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level) for n in names}
    saved_propagate = {n: logging.getLogger(n).propagate for n in names}
    yield
    for n, (handlers, level) in saved.items():
        logger = logging.getLogger(n)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = saved_propagate[n]


def test_setup_tracing_is_one_global_provider(exporter: InMemorySpanExporter) -> None:
    provider = telemetry.setup_tracing("test-telemetry-again", exporter=InMemorySpanExporter())
    assert trace.get_tracer_provider() is provider
    assert telemetry.setup_tracing("x") is provider
    with telemetry.tracer("t").start_as_current_span("work"):
        pass
    assert [s.name for s in exporter.get_finished_spans()] == ["work"]


def test_no_traceparent_outside_a_span() -> None:
    assert telemetry.current_traceparent() is None
    assert telemetry.inject_headers({}) == {}


def test_traceparent_round_trips_through_headers(exporter: InMemorySpanExporter) -> None:
    t = telemetry.tracer("test")
    with t.start_as_current_span("publish") as parent:
        headers = telemetry.inject_headers({"Nats-Msg-Id": "evt-1"})
        traceparent = telemetry.current_traceparent()
    parent_ctx = parent.get_span_context()
    assert headers["Nats-Msg-Id"] == "evt-1"
    assert headers["traceparent"] == traceparent
    trace_id, span_id = trace.format_trace_id(parent_ctx.trace_id), trace.format_span_id(parent_ctx.span_id)
    assert traceparent == f"00-{trace_id}-{span_id}-{parent_ctx.trace_flags:02x}"
    assert parent_ctx.trace_flags.sampled

    ctx = telemetry.context_from_traceparent(headers["traceparent"])
    with t.start_as_current_span("consume", context=ctx) as child:
        pass
    assert child.get_span_context().trace_id == parent_ctx.trace_id
    assert child.parent is not None and child.parent.span_id == parent_ctx.span_id
    finished = {s.name: s for s in exporter.get_finished_spans()}
    assert finished["consume"].parent.span_id == finished["publish"].context.span_id


@pytest.mark.parametrize("bad", [None, "", "not-a-traceparent", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"])
def test_bad_traceparent_starts_a_new_trace(exporter: InMemorySpanExporter, bad: str | None) -> None:
    t = telemetry.tracer("test")
    with t.start_as_current_span("outer") as outer:
        # Even with a span current, a bad header must not adopt it as parent.
        with t.start_as_current_span("consume", context=telemetry.context_from_traceparent(bad)) as span:
            pass
    assert span.parent is None
    assert span.get_span_context().trace_id != outer.get_span_context().trace_id


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/metrics")
    def metrics():
        return telemetry.metrics_response()

    return app


def _requests(service: str, route: str, status: str, method: str = "GET") -> float:
    labels = {"service": service, "method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("tt_http_requests_total", labels) or 0.0


def test_instrumented_app_traces_and_counts_by_route_template(exporter: InMemorySpanExporter) -> None:
    app = _app()
    telemetry.instrument_app(app, "test-http")
    client = TestClient(app)

    assert client.get("/items/41").status_code == 200
    assert client.get("/items/42").status_code == 200
    assert client.get("/nowhere/1").status_code == 404
    assert client.get("/healthz").status_code == 200

    assert _requests("test-http", "/items/{item_id}", "200") == 2
    assert _requests("test-http", "/items/42", "200") == 0
    assert _requests("test-http", "unmatched", "404") == 1
    duration_labels = {"service": "test-http", "method": "GET", "route": "/items/{item_id}"}
    assert REGISTRY.get_sample_value("tt_http_request_duration_seconds_count", duration_labels) == 2

    servers = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert [s.attributes.get("http.route") for s in servers if "/items" in s.name] == [
        "/items/{item_id}",
        "/items/{item_id}",
    ]
    assert not [s for s in servers if "healthz" in s.name], "excluded_urls must skip health checks"


def test_metrics_endpoint_exposes_kernel_metrics() -> None:
    telemetry.OUTBOX_DEPTH.labels("test-metrics").set(7)
    telemetry.PROJECTION_LAG.labels("test-metrics", "roster").set(3)
    response = telemetry.metrics_response()
    assert response.media_type.startswith("text/plain")
    body = response.body.decode()
    assert 'tt_outbox_depth{service="test-metrics"} 7.0' in body
    assert 'tt_projection_lag{projection="roster",service="test-metrics"} 3.0' in body

    app = _app()
    assert "tt_outbox_depth" in TestClient(app).get("/metrics").text


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_logs_carry_trace_ids(exporter, restore_logging, capsys: pytest.CaptureFixture[str]) -> None:
    telemetry.setup_logging("test-logs")
    telemetry.setup_logging("test-logs")  # idempotent: still one handler
    log = logging.getLogger("tt.test")

    with telemetry.tracer("test").start_as_current_span("work") as span:
        log.info("inside %s", "span")
    log.warning("outside")

    inside, outside = _json_lines(capsys.readouterr().err)
    ctx = span.get_span_context()
    assert inside["trace_id"] == trace.format_trace_id(ctx.trace_id)
    assert inside["span_id"] == trace.format_span_id(ctx.span_id)
    assert inside["message"] == "inside span"
    assert inside["level"] == "INFO"
    assert inside["logger"] == "tt.test"
    assert inside["service"] == "test-logs"
    assert inside["time"].endswith("Z")
    assert outside["trace_id"] == "" and outside["span_id"] == ""
    assert outside["level"] == "WARNING"


def test_uvicorn_logs_go_through_the_json_root(restore_logging, capsys: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("uvicorn.access").addHandler(logging.StreamHandler())
    logging.getLogger("uvicorn.access").propagate = False
    telemetry.setup_logging("test-logs", level="debug")

    access = logging.getLogger("uvicorn.access")
    assert access.propagate and not access.handlers
    access.info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/x", "1.1", 200, extra={"color_message": "c"}
    )

    (line,) = _json_lines(capsys.readouterr().err)
    assert line["logger"] == "uvicorn.access"
    assert line["message"] == '127.0.0.1:1 - "GET /x HTTP/1.1" 200'
    assert "color_message" not in line


def test_otlp_export_is_configured_by_the_standard_otel_variables() -> None:
    """A fresh process with OTEL_EXPORTER_OTLP_ENDPOINT set sends its spans as OTLP/HTTP protobuf
    to that endpoint's /v1/traces, under the service's name."""
    import http.server
    import os
    import subprocess
    import sys
    import threading

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[tuple[str, bytes]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = ("from shared import telemetry\n"
              "provider = telemetry.setup_tracing('enrollment')\n"
              "with telemetry.tracer('t').start_as_current_span('nominate 王老师'):\n"
              "    pass\n"
              "provider.shutdown()\n")
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
           "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    env.pop("OTEL_TRACES_EXPORTER", None)
    try:
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    finally:
        server.shutdown()
    [(path, body)] = received
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert attrs["service.name"] == "enrollment"
    assert [s.name for ss in resource_spans.scope_spans for s in ss.spans] == ["nominate 王老师"]


def test_without_an_exporter_requests_still_carry_a_trace_but_record_no_span() -> None:
    """A fresh process with no OTEL_* exporter: the lean path (no ASGI tracing middleware, an
    unrecorded span) must still continue the caller's trace and give every request valid ids,
    which logs and recorded events (their traceparent) rely on."""
    import os
    import subprocess
    import sys

    from shared.settings import REPO_ROOT

    script = (
        "from fastapi import FastAPI\n"
        "from fastapi.testclient import TestClient\n"
        "from opentelemetry import trace\n"
        "from shared import telemetry\n"
        "telemetry.setup_tracing('lean')\n"
        "assert not telemetry.exporting()\n"
        "app = FastAPI()\n"
        "@app.get('/tp')\n"
        "def tp():\n"
        "    span = trace.get_current_span()\n"
        "    return {'tp': telemetry.current_traceparent(), 'recording': span.is_recording()}\n"
        "telemetry.instrument_app(app, 'lean')\n"
        "c = TestClient(app)\n"
        "parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00'\n"
        "got = c.get('/tp', headers={'traceparent': parent}).json()\n"
        "assert got['recording'] is False, got\n"
        "assert got['tp'].split('-')[1] == '0af7651916cd43dd8448eb211c80319c', got\n"
        "assert got['tp'].split('-')[2] != 'b7ad6b7169203331', got\n"
        "fresh = c.get('/tp').json()\n"
        "assert fresh['tp'] and fresh['tp'].split('-')[1] != '0' * 32 and not fresh['recording'], fresh\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60, cwd=REPO_ROOT)


def _propagated(traceparent: str) -> str | None:
    """What the W3C propagator itself makes of `traceparent`: read, then written back."""
    carrier: dict[str, str] = {}
    telemetry._PROPAGATOR.inject(carrier, context=telemetry.context_from_traceparent(traceparent))
    return carrier.get("traceparent")


@pytest.mark.parametrize("traceparent", [
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff",
    "00-00000000000000000000000000000001-0000000000000001-01",
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace id
    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # zero span id
    "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  # upper case
    "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # a later version
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
    " 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
    "garbage",
])
def test_normalized_traceparent_answers_as_the_propagator_does(traceparent: str) -> None:
    assert telemetry.normalized_traceparent(traceparent) == _propagated(traceparent)
