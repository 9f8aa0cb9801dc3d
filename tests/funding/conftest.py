"""Fixtures for funding tests: the real funding app on a fresh database per module, real NATS on
a module namespace, clients carrying a token for a role and org — and, for end-to-end modules,
the real enrollment app in-process on its own database and the same namespace."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import client_for
from tests.funding.enrollment_flow import Enrollment


@pytest.fixture(scope="module")
async def funding_app(db_url, launch):
    async with launch("funding", database_url=db_url) as app:
        yield app


@pytest.fixture(scope="module")
async def enrollment_app(launch):
    """The enrollment service beside ours: its own database, the same bus namespace."""
    async with launch("enrollment") as app:
        yield app


@pytest.fixture(scope="module")
def as_role(funding_app, keys_dir) -> Callable[..., httpx.AsyncClient]:
    """`as_role("county_admin", "330106")` → a client of the funding app with that token."""
    return client_for(funding_app, keys_dir, "http://funding")


@pytest.fixture(scope="module")
def as_enrollment(enrollment_app, keys_dir) -> Callable[..., httpx.AsyncClient]:
    return client_for(enrollment_app, keys_dir, "http://enrollment")


@pytest.fixture(scope="module")
def fpool(funding_app):
    """The funding app's own pool, for asserting on what was (not) written."""
    return funding_app.state.pool


@pytest.fixture(scope="module")
async def world(enrollment_app, funding_app, as_enrollment):
    """The enrollment side of an end-to-end module: the Hangzhou district registered, a project
    open with seven places and all seven teachers nominated (tests/funding/enrollment_flow.py)."""
    flow = Enrollment(enrollment_app, as_enrollment)
    await flow.register()
    await flow.open_project(places=7)
    await flow.nominate_all()
    yield flow
    flow.close()
