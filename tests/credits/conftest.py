"""Fixtures for credits tests: the real credits app on a fresh database per module (real
PostgreSQL, real NATS, its relay and consumers running), a pinned Asia/Shanghai calendar day,
clients carrying a token for a role, and — for end-to-end modules — the real enrollment app on
its own database in the same bus namespace.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from datetime import date

import httpx
import pytest

from services.credits.config import CreditsSettings
from services.credits.main import build_app
from shared.clock import shanghai_today
from shared.devkeys import mint_token
from shared.settings import Settings
from tests.conftest import running

SIGNING_SEED = bytes(range(100, 132))  # tests pass their own key (CREDITS_SIGNING_KEY)


def _settings(service: str, db: str, nats_url, keys_dir, ns: str, pii_key: str) -> Settings:
    return Settings(service_name=service, database_url=db, nats_url=nats_url, bus_namespace=ns,
                    jwt_public_keys=keys_dir / "jwks.json", db_pool_min=1, db_pool_max=20, pii_key=pii_key,
                    projection_batch_size=64)


@pytest.fixture(scope="module")
async def credits_app(db_url, nats_url, keys_dir, module_namespace, pii_key, tmp_path_factory):
    credits = CreditsSettings(signing_key=base64.b64encode(SIGNING_SEED).decode(),
                              keys_dir=tmp_path_factory.mktemp("credits-keys"), verify_rate=50.0, verify_burst=100)
    app = build_app(_settings("credits", db_url, nats_url, keys_dir, module_namespace, pii_key), credits)
    async with running(app):
        yield app


@pytest.fixture(scope="module")
def clock(credits_app) -> dict:
    """`clock["today"] = date(...)` moves the credits service's calendar day."""
    now = {"today": date(2023, 10, 8)}
    credits_app.dependency_overrides[shanghai_today] = lambda: now["today"]
    yield now
    credits_app.dependency_overrides.pop(shanghai_today, None)


def _client(app, base: str, keys_dir, role: str | None, org: str | None, sub: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {mint_token(keys_dir, role, org=org, sub=sub)}"} if role else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base, headers=headers)


@pytest.fixture(scope="module")
def as_role(credits_app, keys_dir) -> Callable[..., httpx.AsyncClient]:
    """`as_role("auditor", "360000")` → a client of the credits app with that token; `as_role(None)`
    → no token (public endpoints)."""
    return lambda role, org=None, sub=None: _client(credits_app, "http://credits", keys_dir, role, org, sub)


@pytest.fixture(scope="module")
async def cpool(credits_app) -> AsyncIterator:
    yield credits_app.state.pool


@pytest.fixture(scope="module")
async def enrollment_app(launch):
    async with launch("enrollment") as app:
        yield app


@pytest.fixture(scope="module")
def enrollment_as(enrollment_app, keys_dir) -> Callable[..., httpx.AsyncClient]:
    return lambda role, org=None, sub=None: _client(enrollment_app, "http://enrollment", keys_dir, role, org, sub)
