"""Fixtures for the security tests: the four real services in-process (each on its own database,
one NATS namespace per module) and the world of tests/security/world.py played through them."""

from __future__ import annotations

import contextlib

import pytest

from shared.devkeys import mint_token
from tests.conftest import peers

pytest.register_assert_rewrite("tests.security.world")

SERVICES = ("enrollment", "credits", "funding", "reporting")


@pytest.fixture(scope="module")
async def apps(launch, keys_dir):
    async with contextlib.AsyncExitStack() as stack:
        out = {}
        for name in SERVICES:
            extra = {"service_token": mint_token(keys_dir, "service", sub="security-tests")}
            out[name] = await stack.enter_async_context(launch(name, **extra))
        await stack.enter_async_context(peers(out))  # reporting asks credits for its verdicts
        yield out


@pytest.fixture(scope="module")
async def world(apps, keys_dir):
    from tests.security.world import World, build

    w = await build(World(apps, keys_dir))
    yield w
    for app in apps.values():
        app.dependency_overrides.clear()
