"""Fixtures for enrollment API tests: the real enrollment app on a fresh database per module,
real NATS, and clients that carry a token for a given role and org."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from services.enrollment.main import spec
from shared.service import create_app
from tests.conftest import running

# The shared helpers assert (refused, problem, draft, ...): let pytest explain their failures as in a test module.
pytest.register_assert_rewrite("tests.enrollment.seed", "tests.enrollment.seed_projects",
                               "tests.enrollment.seed_teachers")


@pytest.fixture(scope="module")
async def enrollment_app(db_url, nats_url, keys_dir, module_namespace, pii_key):
    from shared.settings import Settings

    settings = Settings(service_name="enrollment", database_url=db_url, nats_url=nats_url,
                        bus_namespace=module_namespace, jwt_public_keys=keys_dir / "jwks.json",
                        db_pool_min=1, db_pool_max=20, pii_key=pii_key)
    app = create_app(spec, settings)
    async with running(app):
        yield app


@pytest.fixture(scope="module")
def as_role(enrollment_app, keys_dir) -> Callable[..., httpx.AsyncClient]:
    """`as_role("county_admin", "610102")` → an AsyncClient speaking to the app with that token."""
    from shared.devkeys import mint_token

    def make(role: str, org: str | None = None, sub: str | None = None) -> httpx.AsyncClient:
        token = mint_token(keys_dir, role, org=org, sub=sub)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=enrollment_app), base_url="http://enrollment",
                                 headers={"Authorization": f"Bearer {token}"})

    return make


@pytest.fixture(scope="module")
async def epool(enrollment_app) -> AsyncIterator:
    """The app's own pool, for asserting on what was (not) written."""
    yield enrollment_app.state.pool
