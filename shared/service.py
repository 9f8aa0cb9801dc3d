"""One bootstrap for all four services: pool, migrations, NATS, relay, projections, health,
metrics, errors, auth. A service only brings its routers, migrations and projections."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from . import sqlprofile, telemetry
from .auth import OPERATORS, Authenticated, JwtVerifier, require_role
from .bus import Bus, BusNames, Retention, ensure_stream
from .catchup import FeedOpener
from .consumer import ProjectionConsumer
from .db import create_pool, ensure_database, migrate
from .deadletter_api import dead_letter_router
from .deadletters import PENDING
from .envelope import Envelope, EventRegistry, set_schema_origins
from .eventschemas import ASYNCAPI_FILE, SCHEMA_DIR
from .eventstore import ConcurrencyError, EventStore
from .feed import feed_router, feed_source, store_source
from .inline import InlineProjection, InlineReplay
from .limits import BodyLimitMiddleware
from .problem_codes import api_routes, known_codes, route_codes
from .problems import Problem, document_problems, install_problem_handlers, problem_response
from .projection import Projection
from .relay import OutboxRelay
from .settings import Settings
from .supervise import Supervisor
from .unit_of_work import prune_idempotency_keys

log = logging.getLogger(__name__)


@dataclass
class ServiceSpec:
    name: str
    title: str
    routers: list[APIRouter] = field(default_factory=list)
    migrations: Path | None = None
    projections: list[Projection] = field(default_factory=list)
    registry: EventRegistry = field(default_factory=EventRegistry)
    owns_events: bool = True
    # The service's own tables kept in the command's transaction, guards first (shared/inline.py);
    # the rebuild command replays the service's store through them.
    inline: list[InlineProjection] = field(default_factory=list)
    # Bilingual problem titles of the service's refusal codes (shared/refusal.py).
    titles: Mapping[str, str] = field(default_factory=dict)
    # Roles the service serves nothing at all (403 forbidden_role on every authenticated route,
    # whatever a route's own checks say): finance (财务) in the services holding teachers' data.
    refused_roles: frozenset[str] = frozenset()


def migration_dirs(spec: ServiceSpec) -> list[Path]:
    """The service's own migration folders (the kernel's are always applied by `migrate`)."""
    return [spec.migrations] if spec.migrations else []


def operation_id(route: APIRoute) -> str:
    """A readable operationId, `<tag>-<function>` (e.g. `nominations-nominate`), so clients
    generated from /openapi.json get method names a person would choose (issue 16)."""
    def word(text: object) -> str:
        return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")

    return f"{word(route.tags[0])}-{word(route.name)}" if route.tags else word(route.name)


def create_app(spec: ServiceSpec, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service_name=spec.name)
    # Every envelope this process writes out names its schema on its owner's public URL.
    set_schema_origins(settings.public_urls())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        telemetry.setup_logging(spec.name, settings.log_level)
        telemetry.setup_tracing(spec.name)
        # Keys load at start, not at import: a missing key file stops the pod, loudly.
        app.state.verifier = JwtVerifier(settings.jwt_public_keys, settings.jwt_issuer, settings.jwt_audience)
        await ensure_database(settings.database_url)
        pool = await create_pool(settings.database_url, settings.db_pool_min, settings.db_pool_max)
        sqlprofile.install()
        if settings.migrate_on_start:
            async with pool.acquire() as conn:
                await migrate(conn, *migration_dirs(spec))
        names = BusNames(settings.bus_namespace)
        bus = Bus(settings.nats_url, f"{spec.name}")
        bus.start()
        store = EventStore(spec.name, spec.registry)
        stop = asyncio.Event()
        app.state.pool, app.state.store, app.state.bus, app.state.names = pool, store, bus, names
        tasks = [asyncio.create_task(_provision(bus, names, spec, settings, stop), name="provision")]
        # The loops, started again should one die of what it did not expect (shared/supervise.py).
        app.state.supervisor = supervisor = Supervisor(spec.name, stop, stall_after_s=settings.stall_after_s)
        if spec.owns_events:
            relay = OutboxRelay(settings.database_url, store, bus, names, spec.name, settings.relay_batch_size)
            app.state.relay = relay
            tasks.append(supervisor.start("relay", functools.partial(relay.run, stop), relay.heartbeat))
        app.state.consumers = [
            ProjectionConsumer(pool, bus, names, p, source, spec.name, settings.projection_batch_size,
                               settings.projection_max_deliveries, feed=_feeds(app, spec, settings))
            for p in spec.projections for source in p.sources
        ]
        tasks += [supervisor.start(c.task_name, functools.partial(c.run, stop), c.heartbeat)
                  for c in app.state.consumers]
        tasks.append(supervisor.start("prune-idempotency-keys", functools.partial(_prune_keys, pool, settings, stop)))
        _tune_collector()
        try:
            yield
        finally:
            stop.set()
            _, pending = await asyncio.wait(tasks, timeout=5)
            for t in pending:
                t.cancel()
            await bus.close()
            await pool.close()

    # FastAPI's own telemetry (0.16x+) off: shared/telemetry.py instruments the app, once.
    app = FastAPI(title=spec.title, version="0.1.0", lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  generate_unique_id_function=operation_id)
    app.state.settings = settings
    app.state.spec = spec
    install_problem_handlers(app, spec.titles)

    @app.exception_handler(ConcurrencyError)
    async def _conflict(request: Request, exc: ConcurrencyError) -> JSONResponse:
        if request.headers.get("if-match") is not None:
            p = Problem(412, "precondition_failed", "版本已变更 Version changed",
                        f"{exc.stream_id} is no longer at the version in If-Match")
        else:
            p = Problem(409, "concurrency_conflict", "并发冲突 Concurrent change",
                        f"{exc.stream_id} kept changing while this command was run again; retry shortly")
        return problem_response(p, request.url.path)

    # The service's own routes first, in the order the spec lists them, then the kernel's: FastAPI
    # tries routes one by one (3–4 µs each), so a command found among the first saves up to a
    # tenth of a millisecond per request. Where two routes can match one path, the literal one
    # comes first within its router (tests/test_route_order.py).
    for router in spec.routers:
        app.include_router(router)
    app.include_router(_ops_router(spec))
    # The projections whose dead letters can be replayed here: the live ones, and the inline tables'
    # replay, which parks events only in a rebuild (named as ttadmin names it, shared/admin/targets.py).
    inline = [InlineReplay(spec.name, spec.inline)] if spec.inline else []
    app.include_router(dead_letter_router([*spec.projections, *inline]))
    if spec.owns_events:
        app.include_router(feed_router())
    # Before the telemetry middleware, which then sits outside it and counts the 413s too.
    app.add_middleware(BodyLimitMiddleware, openapi=lambda: app.openapi(), max_body_bytes=settings.max_body_bytes,
                       max_upload_bytes=settings.max_upload_bytes)
    telemetry.instrument_app(app, spec.name)
    _document_errors(app, spec)
    return app


def _feeds(app: FastAPI, spec: ServiceSpec, settings: Settings) -> FeedOpener:
    """Where a consumer that fell behind its stream's retention reads the events it missed
    (shared/catchup.py): the owner's record, from its first event. Our own events from our store;
    another service's from its `GET /v1/events` at <SERVICE>_URL with SERVICE_TOKEN, as rebuilds
    read them (or through the client a test hands in as `app.state.peer_clients`)."""

    def feed(source: str) -> AsyncIterable[list[Envelope]]:
        if source == spec.name:
            return store_source(app.state.pool, app.state.store, limit=settings.projection_catchup_page)
        client = (getattr(app.state, "peer_clients", None) or {}).get(source)
        return feed_source(getattr(settings, f"{source}_url"), settings.service_token,
                           limit=settings.projection_catchup_page, client=client)

    return feed


def _tune_collector() -> None:
    """Keep CPython's cycle collector off a request's path.

    - Freeze what start-up built (modules, FastAPI's routes, pydantic's validators, codecs: a few
      hundred thousand objects that live as long as the process) out of the collector's sight.
      Otherwise every full collection walks them all: a bulk import allocating tens of thousands
      of rows triggered one or two per request, 70-100 ms each on the bench machine, collecting
      nothing.
    - Run the youngest generation's pass after 10,000 net allocations, not CPython's 700. A
      command's objects die by reference counting (tests/enrollment/test_no_cyclic_garbage.py
      holds the command path to that), so the passes find nothing: a minute of the command bench
      ran 1,125 of them, collected 0 objects, spent 0.53 s, and its full passes held every request
      for 4-23 ms each. With 10,000: 5 passes in the same minute, 20 ms (docs/benchmarks.md).
      Cycles made anyway (an error's traceback) are still collected, a few thousand allocations
      later.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


async def _prune_keys(pool: asyncpg.Pool, settings: Settings, stop: asyncio.Event) -> None:
    """Hourly (and once at start): expired Idempotency-Key records go. Every replica may run it;
    the deletes are idempotent."""
    while not stop.is_set():
        try:
            removed = await prune_idempotency_keys(pool, settings.idempotency_retention_hours * 3600)
            if removed:
                log.info("pruned %d expired idempotency keys", removed)
        except Exception as exc:  # the database is away: try again next time
            log.warning("pruning idempotency keys failed: %s", exc)
        try:
            await asyncio.wait_for(stop.wait(), 3600)
        except TimeoutError:
            pass


def _document_errors(app: FastAPI, spec: ServiceSpec) -> None:
    """/openapi.json declares the problem+json errors every operation may answer (shared/problems.py)
    and, per operation, the problem codes its code can raise (`x-problem-codes`, shared/problem_codes.py)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = document_problems(generate())
            known = known_codes(spec.name, spec.titles)
            for route in api_routes(app):
                if route.include_in_schema:
                    for method in route.methods or ():
                        op = doc["paths"].get(route.path_format, {}).get(method.lower())
                        if op is not None:
                            op["x-problem-codes"] = route_codes(route, known)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _provision(bus: Bus, names: BusNames, spec: ServiceSpec, settings: Settings, stop: asyncio.Event) -> None:
    """Create our stream and those we consume, whenever NATS first becomes reachable."""
    wanted = ({spec.name} if spec.owns_events else set()) | {s for p in spec.projections for s in p.sources}
    backoff = 0.2
    while not stop.is_set():
        if await bus.wait_connected(timeout=1.0):
            try:
                for service in sorted(wanted):
                    await ensure_stream(bus.js(), names, service, settings.nats_duplicate_window_s,
                                        settings.nats_stream_replicas, retention(settings), owner=service == spec.name)
                return
            except Exception as exc:
                log.warning("stream provisioning failed, retrying: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)


def retention(settings: Settings) -> Retention:
    return Retention(settings.nats_stream_max_age_s, settings.nats_stream_max_bytes, settings.nats_stream_max_msgs)


class ProjectionView(BaseModel):
    projection: str
    source: str = Field(description="whose events it reads (a service name)")
    lag: int | None = Field(description="events published and not yet applied, as the consumer last saw; "
                                       "null until it has asked NATS")
    last_position: int
    applied: int
    dead_letters: int = Field(description="parked events pending: neither replayed nor discarded")
    catching_up: bool = Field(default=False, description="behind JetStream retention now: applying the owner's "
                                                          "/v1/events feed, or about to")
    catchups: int = Field(default=0, description="catch-ups from the owner's feed since this replica started")
    behind_reason: str | None = Field(default=None, description="why this replica last fell behind retention")
    stalled: bool = Field(default=False, description="its loop is alive but has not turned for STALL_AFTER_S "
                                                     "(docs/operations.md, 'A loop is stalled')")


class ProjectionsView(BaseModel):
    projections: list[ProjectionView]


_SCHEMA_NAME = re.compile(r"[a-z0-9_]+\.v[0-9]+\.json")


def _ops_router(spec: ServiceSpec) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": spec.name}

    @router.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        checks = {"database": False, "nats": False}
        pool: asyncpg.Pool | None = getattr(request.app.state, "pool", None)
        if pool is not None:
            try:
                async with asyncio.timeout(2):
                    async with pool.acquire() as conn:
                        checks["database"] = await conn.fetchval("SELECT true")
            except Exception:
                checks["database"] = False
        bus: Bus | None = getattr(request.app.state, "bus", None)
        checks["nats"] = bool(bus and bus.connected)
        supervisor: Supervisor | None = getattr(request.app.state, "supervisor", None)
        down = sorted(supervisor.down) if supervisor is not None else []
        stalled = supervisor.stalled() if supervisor is not None else []
        # Readiness decides whether a pod gets traffic, and commands need only PostgreSQL: while
        # NATS is away they commit to the outbox and the relay catches up later. Failing
        # readiness on NATS would take every replica out of its Service at once and turn a
        # messaging outage into an API outage. NATS shows here and in the metrics instead.
        # A background loop being started again (shared/supervise.py) degrades too, for the same
        # reason: commands still commit; the relay or a projection catches up once it is back.
        # So does one that is alive but has stopped turning (stalled): restarting the pod is the
        # operator's call, with the loop's name and its logs in hand (docs/operations.md).
        ok = checks["database"]
        status = "unavailable" if not ok else ("ready" if checks["nats"] and not down and not stalled
                                               else "degraded")
        body: dict[str, object] = {"status": status, "checks": checks}
        if down:
            body["restarting"] = down
        if stalled:
            body["stalled"] = stalled
        return JSONResponse(body, status_code=200 if ok else 503)

    # Documents about the API, as /openapi.json is, rather than operations of it: left out of the OpenAPI.
    @router.get("/v1/events/schemas/{service}/{name}", include_in_schema=False,
                summary="The JSON Schema of one event type and version this service publishes (issue 16)",
                description="Every envelope names its data's schema here in CloudEvents `dataschema`; the files "
                            "are docs/events/<service>/<event>.v<N>.json, generated from the event models.")
    async def event_schema(service: str, name: str) -> Response:
        path = SCHEMA_DIR / service / name
        if service != spec.name or not _SCHEMA_NAME.fullmatch(name) or not path.is_file():
            raise Problem(404, "schema_not_found", "No such event schema",
                          f"{spec.name} publishes no schema {service}/{name}")
        return Response(path.read_bytes(), media_type="application/schema+json",
                        headers={"Cache-Control": "public, max-age=300"})

    @router.get("/v1/asyncapi.json", include_in_schema=False,
                summary="AsyncAPI 3.0 document of every NATS subject the services publish on (issue 16)")
    async def asyncapi_document() -> Response:
        return Response(ASYNCAPI_FILE.read_bytes(), media_type="application/json",
                        headers={"Cache-Control": "public, max-age=300"})

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return telemetry.metrics_response()

    @router.get("/v1/projections", summary="Projections of this service and their lag",
                response_model=ProjectionsView)
    async def projections(request: Request, principal: Authenticated) -> Any:
        require_role(principal, *OPERATORS)
        async with request.app.state.pool.acquire() as conn:
            rows = await conn.fetch("SELECT projection, last_position, applied, updated_at FROM projection_state")
            dead = dict(await conn.fetch(
                f"SELECT projection, count(*) FROM dead_letters WHERE {PENDING} GROUP BY projection"))
        state = {r["projection"]: r for r in rows}
        supervisor: Supervisor | None = getattr(request.app.state, "supervisor", None)
        stalled = set(supervisor.stalled()) if supervisor is not None else set()
        out = []
        for c in request.app.state.consumers:
            r = state.get(c.projection.name)
            out.append({
                "projection": c.projection.name, "source": c.source, "lag": c.lag,
                "last_position": r["last_position"] if r else 0, "applied": r["applied"] if r else 0,
                "dead_letters": dead.get(c.projection.name, 0), "catching_up": c.behind,
                "catchups": c.catchups, "behind_reason": c.behind_reason,
                "stalled": c.task_name in stalled,
            })
        return {"projections": out}

    return router
