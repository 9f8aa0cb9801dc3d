"""Tracing, metrics and JSON logging shared by every service.

OpenTelemetry lets the global TracerProvider be set exactly once per process, so `setup_tracing`
keeps one in a module global and later calls (tests; several services in one process) only add
span processors to it: `service.name` is whatever the FIRST call said.
Trace context crosses NATS as W3C traceparent/tracestate headers (or a bare traceparent stored
in an outbox row); log lines carry the current trace/span id so they join to traces.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, SamplingResult
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

try:  # python-json-logger >= 3.1 moved the formatter; the old path warns there.
    from pythonjsonlogger.json import JsonFormatter
except ImportError:  # pragma: no cover - python-json-logger 2.x
    from pythonjsonlogger.jsonlogger import JsonFormatter

log = logging.getLogger(__name__)

_provider: TracerProvider | None = None
_env_exporter_done = False
_lock = threading.Lock()
# W3C only (no baggage): these headers are the whole cross-service contract.
_PROPAGATOR = TraceContextTextMapPropagator()


def _exporter_from_env() -> SpanExporter | None:
    kind = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if kind == "console":
        return ConsoleSpanExporter()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if kind == "none" or not (kind == "otlp" or endpoint):
        return None
    # The OTLP exporter drags in grpc/protobuf: an optional deploy-time install, imported lazily.
    grpc_first = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf") == "grpc"
    for transport in ("grpc", "http") if grpc_first else ("http", "grpc"):
        try:
            exporter: SpanExporter = importlib.import_module(
                f"opentelemetry.exporter.otlp.proto.{transport}.trace_exporter"
            ).OTLPSpanExporter()
            return exporter
        except ImportError:
            continue
    log.warning("OTLP tracing requested but opentelemetry-exporter-otlp is not installed")
    return None


def setup_tracing(service_name: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """Install (once) and return the process-wide TracerProvider.

    With `exporter`, spans go to it synchronously (tests). Without, the exporter comes from the
    OTEL_* environment, added at most once; with none configured spans are still recorded so
    logs get trace ids. Repeated calls never replace the provider or its resource.
    """
    global _provider, _env_exporter_done
    with _lock:
        if _provider is None:
            current = trace.get_tracer_provider()
            if isinstance(current, TracerProvider):
                # e.g. `opentelemetry-instrument` got there first; setting ours would be ignored.
                _provider = current
            else:
                # OTEL_TRACES_SAMPLER, when set, is the operator's choice (the SDK reads it).
                sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else _SAMPLER
                _provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}), sampler=sampler)
                trace.set_tracer_provider(_provider)
        if exporter is not None:
            _provider.add_span_processor(SimpleSpanProcessor(exporter))
            _SAMPLER.exporting = True
        elif not _env_exporter_done:
            _env_exporter_done = True
            env_exporter = _exporter_from_env()
            if env_exporter is not None:
                _provider.add_span_processor(BatchSpanProcessor(env_exporter))
                _SAMPLER.exporting = True
        return _provider


class _WhileExported(Sampler):
    """Record spans only once something exports them. Recording builds and fills a span on every
    request, apply and publish only to throw it away when no exporter is configured (about a tenth
    of a command's CPU, make bench-profile showed); a span that is not recorded still has valid
    ids, so logs keep their trace ids and events their traceparent (flagged not sampled, W3C).
    A caller's sampled traceparent is still honoured (parent-based)."""

    def __init__(self) -> None:
        self.exporting = False
        self._on, self._off = ParentBased(ALWAYS_ON), ParentBased(ALWAYS_OFF)

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: trace.SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[trace.Link] | None = None,
                      trace_state: trace.TraceState | None = None) -> SamplingResult:
        chosen = self._on if self.exporting else self._off
        return chosen.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "ParentBased(AlwaysOn) while exporting, else ParentBased(AlwaysOff)"


_SAMPLER = _WhileExported()


def exporting() -> bool:
    """Whether spans recorded now go anywhere (an exporter is configured); when not, hot paths
    skip the spans they would make only to be seen."""
    return _SAMPLER.exporting


def tracer(name: str) -> trace.Tracer:
    # Goes through the global proxy so module-level tracers made before setup_tracing still work.
    return trace.get_tracer(name)


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)  # no-op when the current span context is invalid
    return carrier.get("traceparent")


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    _PROPAGATOR.inject(headers)
    return headers


# A traceparent as the W3C propagator writes it (version 00, lowercase, ids not all zero), which
# it would read and write back unchanged.
_CANONICAL_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")


def normalized_traceparent(traceparent: str | None) -> str | None:
    """The traceparent a non-recording span continuing `traceparent` would propagate: the same
    context, re-serialised; None for none or a malformed one. Every relayed event carries one and
    a projection asks this per event: the usual, canonical form is answered as it is (the
    propagator's read and write cost ~25 µs), any other goes the propagator's way."""
    if not traceparent:
        return None
    if len(traceparent) == 55 and _CANONICAL_TRACEPARENT.fullmatch(traceparent):
        return traceparent
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context_from_traceparent(traceparent))
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> Context:
    # An explicit empty Context: a bad header must start a new trace, not silently
    # inherit whatever span happens to be current in the consumer.
    if not traceparent:
        return Context()
    return _PROPAGATOR.extract({"traceparent": traceparent}, context=Context())


_S, _SP = ["service"], ["service", "projection"]
OUTBOX_DEPTH = Gauge("tt_outbox_depth", "Outbox rows waiting to be published", _S)
OUTBOX_OLDEST_AGE = Gauge("tt_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", _S)
RELAY_PUBLISHED = Counter("tt_relay_published", "Events published by the outbox relay", _S)
RELAY_PUBLISH_ERRORS = Counter("tt_relay_publish_errors", "Failed relay publish attempts", _S)
RELAY_PARKED = Counter("tt_relay_parked", "Events NATS refused on every attempt, parked by the relay", _S)
PROJECTION_LAG = Gauge("tt_projection_lag", "Messages pending for a projection consumer", _SP)
PROJECTION_APPLIED = Counter("tt_projection_applied", "Events applied by a projection", _SP)
PROJECTION_LAST_POSITION = Gauge("tt_projection_last_position", "Last stream position applied", _SP)
PROJECTION_CATCHUPS = Counter("tt_projection_catchups", "Catch-ups from an owner's /v1/events feed after JetStream "
                              "retention discarded messages a consumer had not read", [*_SP, "source"])
PROJECTION_CATCHUP_APPLIED = Counter("tt_projection_catchup_applied", "Events a catch-up from an owner's feed applied",
                                     [*_SP, "source"])
DEAD_LETTERS = Gauge("tt_dead_letters", "Events parked as dead letters", _SP)
BACKGROUND_RESTARTS = Counter("tt_background_restarts", "Background loops (relay, consumers) that ended "
                              "unexpectedly and were started again (shared/supervise.py)", [*_S, "task"])
BACKGROUND_STALLED = Gauge("tt_background_stalled", "1 while a background loop (relay, consumer) is alive but has "
                           "not turned for STALL_AFTER_S, else 0 (shared/supervise.py)", [*_S, "task"])
_HTTP = ["service", "method", "route"]
HTTP_REQUESTS = Counter("tt_http_requests", "HTTP requests handled", [*_HTTP, "status"])
HTTP_DURATION = Histogram("tt_http_request_duration_seconds", "HTTP request latency", _HTTP)

# Anything else (a client can send any token as a method) collapses to one label value.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def metrics_response() -> Response:
    return Response(content=generate_latest(), media_type=CONTENT_TYPE_LATEST)


class _PrometheusMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware) so streaming bodies and contextvars are untouched."""

    def __init__(self, app: ASGIApp, service_name: str) -> None:
        self.app = app
        self.service_name = service_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception before the response starts becomes a 500 further out

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            # The router writes the matched route into this same scope dict; the template,
            # not the raw path, keeps label cardinality bounded.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            HTTP_REQUESTS.labels(self.service_name, method, route, str(status)).inc()
            HTTP_DURATION.labels(self.service_name, method, route).observe(time.perf_counter() - start)


def instrument_app(app: FastAPI, service_name: str) -> None:
    """Call at app construction: Starlette refuses new middleware once the app has started."""
    if any(m.cls is _PrometheusMiddleware for m in app.user_middleware):  # type: ignore[comparison-overlap]
        return  # a second middleware would count every request twice
    # No per-chunk "http send"/"http receive" child spans: two or three extra spans a request
    # that say nothing the server span does not, and cost ~10% of a command's CPU (bench profile).
    plain = app.build_middleware_stack
    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls="healthz,readyz,metrics",
                                       exclude_spans=["receive", "send"])
    traced = app.build_middleware_stack
    app.build_middleware_stack = lambda: _LeanTracing(traced(), plain())  # type: ignore[method-assign]
    app.add_middleware(_PrometheusMiddleware, service_name=service_name)


_server_tracer = trace.get_tracer("shared.telemetry.http")


class _LeanTracing:
    """The OpenTelemetry ASGI middleware only for requests whose spans someone will see: while no
    exporter is configured and the caller did not ask for a sampled trace, a request skips it
    (about 8% of a command's CPU, make bench-profile showed) and runs the same stack without it,
    inside an unrecorded server span that continues the caller's traceparent — all that logs
    (trace ids) and recorded events (their traceparent) need."""

    def __init__(self, traced: ASGIApp, plain: ASGIApp) -> None:
        self.traced = traced
        self.plain = plain
        # FastAPI ≥ 0.16x looks down the `.app` chain for this middleware and, finding it, leaves
        # HTTP spans to it instead of making its own as well.
        self.app = traced

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _SAMPLER.exporting:
            await self.traced(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"traceparent"), None)
        parent = context_from_traceparent(header.decode("latin-1") if header else None)
        if trace.get_current_span(parent).get_span_context().trace_flags.sampled:
            await self.traced(scope, receive, send)
            return
        with _server_tracer.start_as_current_span("HTTP", context=parent, kind=trace.SpanKind.SERVER):
            await self.plain(scope, receive, send)


_HANDLER_NAME = "tt-json"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]  # stdlib generic only in stubs
    """Looks up sys.stderr per record, so pytest's capsys (which swaps it) sees the output."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


class _TraceContextFilter(logging.Filter):
    # Runs in the logging call's own thread/task, so the current span is the caller's.
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = trace.format_trace_id(ctx.trace_id) if ctx.is_valid else ""
        record.span_id = trace.format_span_id(ctx.span_id) if ctx.is_valid else ""
        # uvicorn attaches an ANSI-coloured duplicate of every message as an extra.
        record.__dict__.pop("color_message", None)
        return True


def setup_logging(service_name: str, level: str = "INFO") -> None:
    """Route all logging, uvicorn's included, to JSON lines on stderr. Safe to call again.

    Call it after uvicorn configured its logging (app factory or lifespan), or run uvicorn
    with log_config=None; otherwise uvicorn's dictConfig re-installs its own handlers.
    """
    formatter = JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={"service": service_name},
        json_ensure_ascii=False,
    )
    formatter.converter = time.gmtime
    formatter.default_time_format = "%Y-%m-%dT%H:%M:%S"
    formatter.default_msec_format = "%s.%03dZ"

    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(_TraceContextFilter())
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in list(root.handlers):
        # Ours from an earlier call, or a plain-text basicConfig handler that would interleave
        # non-JSON lines; subclasses (pytest's capture handlers) are left alone.
        if old.get_name() == _HANDLER_NAME or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())

    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        for old in list(uv.handlers):
            uv.removeHandler(old)
        uv.propagate = True
        uv.setLevel(logging.NOTSET)  # so `level` above is the single knob
