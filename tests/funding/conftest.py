"""Fixtures for funding tests: the real funding app on a fresh database per module, real NATS on
a module namespace, clients carrying a token for a role and org — and, for end-to-end modules,
the real enrollment app in-process on its own database and the same namespace."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from shared.db import drop_database, with_database
from shared.devkeys import mint_token
from shared.service import create_app
from shared.settings import Settings
from tests.conftest import running


def _settings(service: str, database_url: str, nats_url, keys_dir, namespace, pii_key) -> Settings:
    return Settings(service_name=service, database_url=database_url, nats_url=nats_url, bus_namespace=namespace,
                    jwt_public_keys=keys_dir / "jwks.json", db_pool_min=1, db_pool_max=30, pii_key=pii_key)


@pytest.fixture(scope="module")
async def funding_app(db_url, nats_url, keys_dir, module_namespace, pii_key):
    from services.funding.main import spec

    app = create_app(spec, _settings("funding", db_url, nats_url, keys_dir, module_namespace, pii_key))
    async with running(app):
        yield app


@pytest.fixture(scope="module")
async def enrollment_app(pg_server_url, nats_url, keys_dir, module_namespace, pii_key):
    """The enrollment service beside ours: its own database, the same bus namespace."""
    from services.enrollment.main import spec

    url = with_database(pg_server_url, f"t_enr_{uuid.uuid4().hex[:10]}")
    app = create_app(spec, _settings("enrollment", url, nats_url, keys_dir, module_namespace, pii_key))
    async with running(app):
        yield app
    await drop_database(url)


def _client(app, keys_dir, base: str) -> Callable[..., httpx.AsyncClient]:
    def make(role: str, org: str | None = None, sub: str | None = None) -> httpx.AsyncClient:
        token = mint_token(keys_dir, role, org=org, sub=sub or f"{role}-{org or 'x'}")
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base,
                                 headers={"Authorization": f"Bearer {token}"})

    return make


@pytest.fixture(scope="module")
def as_role(funding_app, keys_dir) -> Callable[..., httpx.AsyncClient]:
    """`as_role("county_admin", "330106")` → a client of the funding app with that token."""
    return _client(funding_app, keys_dir, "http://funding")


@pytest.fixture(scope="module")
def as_enrollment(enrollment_app, keys_dir) -> Callable[..., httpx.AsyncClient]:
    return _client(enrollment_app, keys_dir, "http://enrollment")


@pytest.fixture(scope="module")
def fpool(funding_app):
    """The funding app's own pool, for asserting on what was (not) written."""
    return funding_app.state.pool
