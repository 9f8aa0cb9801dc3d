"""Apply one service's migrations, outside the service: `python -m shared.migrate <service>`.

The lifespan migrates at start (shared/service.py) unless MIGRATE_ON_START=false; Kubernetes sets
that and runs this instead, as a Job per service and release (deploy/k8s). It applies exactly
what the lifespan would: the same database (DATABASE_URL, via shared.settings), created if
missing, then the kernel's and the service's own migrations (its ServiceSpec) under the same
advisory lock, so a Job and a service that still migrates at start never race.

    python -m shared.migrate enrollment              apply pending migrations
    python -m shared.migrate enrollment --check      exit 3 if some are pending (lists them)
    python -m shared.migrate enrollment --wait 600   wait until none are pending (init container)
    python -m shared.migrate enrollment --retry-for 300   keep retrying while PostgreSQL is unreachable

Exit codes: 0 done / nothing pending, 1 error, 2 usage, 3 pending (--check) or timed out (--wait).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from .db import connect, ensure_database, migrate, migration_files, pending_migrations
from .service import ServiceSpec, migration_dirs
from .settings import Settings

log = logging.getLogger("shared.migrate")
T = TypeVar("T")
PENDING = 3
# Errors of reaching the server (not up yet, starting, role not created yet): worth retrying.
# An error inside a migration is not; it fails at once.
_UNREACHABLE = (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
                asyncpg.InvalidAuthorizationSpecificationError)


def service_spec(service: str) -> ServiceSpec:
    """The ServiceSpec of `services.<service>.main` (each entry point exposes `spec`)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", service):
        raise SystemExit(f"shared.migrate: not a service name: {service!r}")
    try:
        module = importlib.import_module(f"services.{service}.main")
    except ModuleNotFoundError as exc:
        if exc.name in (f"services.{service}", f"services.{service}.main"):
            raise SystemExit(f"shared.migrate: no service named {service!r} (services/{service}/main.py)") from None
        raise
    spec = getattr(module, "spec", None)
    if not isinstance(spec, ServiceSpec):
        raise SystemExit(f"shared.migrate: services.{service}.main has no ServiceSpec named `spec`")
    return spec


async def _retrying(step: Callable[[], Awaitable[T]], retry_for: float, what: str) -> T:
    deadline = time.monotonic() + retry_for
    delay = 0.5
    while True:
        try:
            return await step()
        except _UNREACHABLE as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("%s: database unreachable (%s: %s); retrying in %.1fs",
                        what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def apply(spec: ServiceSpec, settings: Settings, retry_for: float = 0.0) -> list[str]:
    """What the lifespan does before it opens the pool: create the database, then migrate."""
    async def reach() -> asyncpg.Connection:
        await ensure_database(settings.database_url)
        return await connect(settings.database_url)

    conn = await _retrying(reach, retry_for, spec.name)
    try:
        return await migrate(conn, *migration_dirs(spec))
    finally:
        await conn.close()


async def pending(spec: ServiceSpec, settings: Settings, retry_for: float = 0.0) -> list[str]:
    try:
        conn = await _retrying(lambda: connect(settings.database_url), retry_for, spec.name)
    except asyncpg.InvalidCatalogNameError:  # no database yet: everything is pending
        return [name for name, _ in migration_files(*migration_dirs(spec))]
    try:
        return await pending_migrations(conn, *migration_dirs(spec))
    finally:
        await conn.close()


async def wait(spec: ServiceSpec, settings: Settings, timeout: float, interval: float = 2.0) -> list[str]:
    """Poll until nothing is pending (or `timeout`); returns what is still pending."""
    deadline = time.monotonic() + timeout
    said = 0.0
    while True:
        left = deadline - time.monotonic()
        try:
            todo = await pending(spec, settings)
        except _UNREACHABLE as exc:
            if left <= 0:
                raise
            if time.monotonic() - said > 10:
                log.info("%s: waiting for the database: %s: %s", spec.name, type(exc).__name__, exc)
                said = time.monotonic()
        else:
            if not todo or left <= 0:
                return todo
            if time.monotonic() - said > 10:
                log.info("%s: waiting for migrations: %s", spec.name, ", ".join(todo))
                said = time.monotonic()
        await asyncio.sleep(max(0.0, min(interval, left)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("service", help="enrollment, credits, funding or reporting")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="apply nothing; exit 3 if migrations are pending")
    mode.add_argument("--wait", type=float, metavar="SECONDS",
                      help="apply nothing; wait until no migration is pending (exit 3 on timeout)")
    parser.add_argument("--retry-for", type=float, default=0.0, metavar="SECONDS",
                        help="keep retrying for this long while the database is unreachable")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")

    spec = service_spec(args.service)
    settings = Settings(service_name=spec.name)
    try:
        if args.wait is not None:
            todo = asyncio.run(wait(spec, settings, args.wait))
            if todo:
                print(f"{spec.name}: still pending after {args.wait:.0f}s: {', '.join(todo)}", file=sys.stderr)
                return PENDING
            print(f"{spec.name}: schema up to date")
            return 0
        if args.check:
            todo = asyncio.run(pending(spec, settings, args.retry_for))
            for name in todo:
                print(f"pending {name}")
            return PENDING if todo else 0
        applied = asyncio.run(apply(spec, settings, args.retry_for))
    except _UNREACHABLE as exc:
        print(f"{spec.name}: cannot reach the database: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for name in applied:
        print(f"applied {name}")
    print(f"{spec.name}: {len(applied)} migration(s) applied; schema up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
