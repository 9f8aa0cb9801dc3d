"""Each of the four real service apps boots on real PostgreSQL and NATS, migrates its own
database, and reports ready; readiness stays up (degraded) while NATS is unreachable."""

from __future__ import annotations

import importlib

import httpx
import pytest

from shared.service import create_app
from tests.conftest import eventually, running

SERVICES = ["enrollment", "credits", "funding", "reporting"]


@pytest.mark.parametrize("name", SERVICES)
async def test_service_boots_and_is_ready(name, settings_for, pg_server_url):
    from shared.db import with_database

    spec = importlib.import_module(f"services.{name}.main").spec
    db = with_database(pg_server_url, f"t_boot_{name}_{settings_for('x').bus_namespace}")
    app = create_app(spec, settings_for(name, database_url=db))
    async with running(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, message=f"{name} ready")
            assert (await client.get("/healthz")).json() == {"status": "ok", "service": name}
            metrics = (await client.get("/metrics")).text
            assert "tt_http_requests_total" in metrics
            openapi = (await client.get("/openapi.json")).json()
            assert ("/v1/events" in openapi["paths"]) is spec.owns_events
    from shared.db import drop_database
    await drop_database(db)


async def test_readyz_stays_ready_but_degraded_while_nats_is_unreachable(settings_for, nats_proxy):
    """Commands need only PostgreSQL (the outbox holds events while NATS is away), so a NATS
    outage must not take the pods out of their Service: /readyz stays 200 and says degraded."""
    spec = importlib.import_module("services.enrollment.main").spec
    app = create_app(spec, settings_for("enrollment", nats_url=nats_proxy.url))
    async with running(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
            async def status(word: str):
                async def check() -> bool:
                    return (await client.get("/readyz")).json()["status"] == word
                return check

            await eventually(await status("ready"), message="ready")
            nats_proxy.cut()
            await eventually(await status("degraded"), message="degraded while NATS is away")
            resp = await client.get("/readyz")
            assert resp.status_code == 200
            assert resp.json()["checks"] == {"database": True, "nats": False}
            nats_proxy.restore()
            await eventually(await status("ready"), timeout=30, message="ready again")
