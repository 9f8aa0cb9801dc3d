"""Fixtures for reporting tests: the real reporting app on a fresh database per module, real NATS
on a module namespace, clients carrying a token for a role and org — and, for end-to-end modules,
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

pytest.register_assert_rewrite("tests.reporting.given", "tests.reporting.scenario")


def settings(service: str, database_url: str, nats_url, keys_dir, namespace, pii_key) -> Settings:
    return Settings(service_name=service, database_url=database_url, nats_url=nats_url, bus_namespace=namespace,
                    jwt_public_keys=keys_dir / "jwks.json", db_pool_min=1, db_pool_max=20, pii_key=pii_key,
                    enrollment_url="http://enrollment", service_token=mint_token(keys_dir, "service", sub="reporting"))


@pytest.fixture(scope="module")
async def reporting_app(db_url, nats_url, keys_dir, module_namespace, pii_key):
    from services.reporting.main import spec

    app = create_app(spec, settings("reporting", db_url, nats_url, keys_dir, module_namespace, pii_key))
    async with running(app):
        yield app


@pytest.fixture(scope="module")
async def enrollment_app(pg_server_url, nats_url, keys_dir, module_namespace, pii_key):
    """The enrollment service beside ours: its own database, the same bus namespace."""
    from services.enrollment.main import spec

    url = with_database(pg_server_url, f"t_enr_{uuid.uuid4().hex[:10]}")
    app = create_app(spec, settings("enrollment", url, nats_url, keys_dir, module_namespace, pii_key))
    async with running(app):
        yield app
    await drop_database(url)


@pytest.fixture(scope="module")
async def funding_app(pg_server_url, nats_url, keys_dir, module_namespace, pii_key):
    """The funding service beside ours (end-to-end compliance checks): its own database."""
    from services.funding.main import spec

    url = with_database(pg_server_url, f"t_fun_{uuid.uuid4().hex[:10]}")
    app = create_app(spec, settings("funding", url, nats_url, keys_dir, module_namespace, pii_key))
    async with running(app):
        yield app
    await drop_database(url)


@pytest.fixture(scope="module")
async def credits_app(pg_server_url, nats_url, keys_dir, module_namespace, pii_key):
    """The credits service beside ours (end-to-end compliance checks): its own database."""
    from services.credits.main import spec

    url = with_database(pg_server_url, f"t_cre_{uuid.uuid4().hex[:10]}")
    app = create_app(spec, settings("credits", url, nats_url, keys_dir, module_namespace, pii_key))
    async with running(app):
        yield app
    await drop_database(url)


def client_for(app, keys_dir, base: str) -> Callable[..., httpx.AsyncClient]:
    def make(role: str, org: str | None = None, sub: str | None = None) -> httpx.AsyncClient:
        token = mint_token(keys_dir, role, org=org, sub=sub or f"{role}-{org or 'x'}")
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base,
                                 headers={"Authorization": f"Bearer {token}"})

    return make


@pytest.fixture(scope="module")
def as_role(reporting_app, keys_dir) -> Callable[..., httpx.AsyncClient]:
    """`as_role("county_admin", "610102")` → a client of the reporting app with that token."""
    return client_for(reporting_app, keys_dir, "http://reporting")


@pytest.fixture(scope="module")
def as_enrollment(enrollment_app, keys_dir) -> Callable[..., httpx.AsyncClient]:
    return client_for(enrollment_app, keys_dir, "http://enrollment")


@pytest.fixture(scope="module")
def as_funding(funding_app, keys_dir) -> Callable[..., httpx.AsyncClient]:
    return client_for(funding_app, keys_dir, "http://funding")


@pytest.fixture(scope="module")
def as_credits(credits_app, keys_dir) -> Callable[..., httpx.AsyncClient]:
    return client_for(credits_app, keys_dir, "http://credits")


@pytest.fixture(scope="module")
def rpool(reporting_app):
    """The reporting app's own pool, for seeding given events and asserting on its tables."""
    return reporting_app.state.pool


@pytest.fixture(scope="module")
async def world(enrollment_app, reporting_app, as_enrollment):
    """The acceptance scenario (tests/reporting/scenario.py) played through enrollment's API and
    carried to reporting over NATS; reporting's calendar pinned to 31 December 2023."""
    from datetime import date

    from services.reporting.api.common import shanghai_today
    from tests.reporting.given import at_head
    from tests.reporting.scenario import Scenario, play

    s = Scenario(enrollment_app, as_enrollment)
    await play(s)
    await at_head(reporting_app, enrollment_app, "reporting_directory", "reporting_enrollments")
    reporting_app.dependency_overrides[shanghai_today] = lambda: date(2023, 12, 31)
    yield s
    reporting_app.dependency_overrides.pop(shanghai_today, None)
    enrollment_app.dependency_overrides.clear()
