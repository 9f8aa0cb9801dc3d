"""Fixtures for reporting tests: the real reporting app on a fresh database per module, real NATS
on a module namespace, clients carrying a token for a role and org — and, for end-to-end modules,
the real enrollment app in-process on its own database and the same namespace."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from shared.devkeys import mint_token
from tests.conftest import client_for

pytest.register_assert_rewrite("tests.reporting.given", "tests.reporting.scenario")


@pytest.fixture(scope="module")
async def reporting_app(db_url, launch, keys_dir):
    # Rebuilds follow enrollment's feed, reached in-process at this base URL.
    async with launch("reporting", database_url=db_url, enrollment_url="http://enrollment",
                      service_token=mint_token(keys_dir, "service", sub="reporting")) as app:
        yield app


@pytest.fixture(scope="module")
async def enrollment_app(launch):
    """The enrollment service beside ours: its own database, the same bus namespace."""
    async with launch("enrollment") as app:
        yield app


@pytest.fixture(scope="module")
async def funding_app(launch):
    """The funding service beside ours (end-to-end compliance checks): its own database."""
    async with launch("funding") as app:
        yield app


@pytest.fixture(scope="module")
async def credits_app(launch, reporting_app):
    """The credits service beside ours: its own database; reporting asks it, in-process, for the
    compliance verdicts it publishes (services/reporting/peers.py)."""
    async with launch("credits") as app, httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                           base_url="http://credits") as client:
        reporting_app.state.peer_clients = {**(getattr(reporting_app.state, "peer_clients", None) or {}),
                                            "credits": client}
        yield app


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

    from shared.clock import shanghai_today
    from tests.reporting.given import at_head
    from tests.reporting.scenario import Scenario, play

    s = Scenario(enrollment_app, as_enrollment)
    await play(s)
    await at_head(reporting_app, enrollment_app, "reporting_directory", "reporting_enrollments")
    reporting_app.dependency_overrides[shanghai_today] = lambda: date(2023, 12, 31)
    yield s
    reporting_app.dependency_overrides.pop(shanghai_today, None)
    enrollment_app.dependency_overrides.clear()
