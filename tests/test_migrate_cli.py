"""`python -m shared.migrate <service>` (the Kubernetes migration Job) against real PostgreSQL:
it creates and migrates a fresh database exactly as the lifespan would, is idempotent, and
`--check` / `--wait` report what is pending; MIGRATE_ON_START=false leaves the schema alone."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import uuid

import asyncpg

from shared.db import RENUMBER_RESTORED, drop_database, migration_files, with_database
from shared.service import create_app, migration_dirs
from shared.settings import REPO_ROOT
from tests.conftest import running

ENROLLMENT_TABLES = {"orgs", "teachers", "projects", "enrollments", "attendance",  # the service's
                     "events", "outbox", "projection_state", "dead_letters", "schema_migrations"}  # the kernel's


async def run_cli(database_url: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.migrate", *args, cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode, out.decode()


async def tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        return {r["table_name"] for r in rows}  # views too: `outbox` is one since migration 0006
    finally:
        await conn.close()


async def test_migrate_cli_creates_and_migrates_a_fresh_database(pg_server_url):
    url = with_database(pg_server_url, f"t_mig_{uuid.uuid4().hex[:10]}")
    spec = importlib.import_module("services.enrollment.main").spec
    expected = [name for name, _ in migration_files(*migration_dirs(spec))]
    try:
        code, out = await run_cli(url, "enrollment", "--check")  # the database does not exist yet
        assert code == 3, out
        assert [line.removeprefix("pending ") for line in out.splitlines() if line.startswith("pending ")] == expected

        code, out = await run_cli(url, "enrollment")
        assert code == 0, out
        assert [line.removeprefix("applied ") for line in out.splitlines() if line.startswith("applied ")] == expected
        assert ENROLLMENT_TABLES <= await tables(url)
        conn = await asyncpg.connect(url)
        try:
            recorded = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")]
        finally:
            await conn.close()
        assert sorted(recorded) == sorted(expected)

        code, out = await run_cli(url, "enrollment")  # a second run (the next release's Job) is a no-op
        assert code == 0, out
        assert "0 migration(s) applied" in out and "applied enrollment/" not in out
        assert (await run_cli(url, "enrollment", "--check"))[0] == 0
        code, out = await run_cli(url, "enrollment", "--wait", "5")  # the Deployments' init container
        assert code == 0 and "schema up to date" in out, out
    finally:
        await drop_database(url)


async def test_wait_times_out_while_migrations_are_pending(pg_server_url):
    url = with_database(pg_server_url, f"t_mig_{uuid.uuid4().hex[:10]}")
    code, out = await run_cli(url, "enrollment", "--wait", "1")
    assert code == 3, out
    assert "still pending" in out and "enrollment/" in out


async def test_a_store_restored_from_another_server_is_pending_until_migrate_renumbers_it(pg_server_url):
    url = with_database(pg_server_url, f"t_mig_{uuid.uuid4().hex[:10]}")
    try:
        assert (await run_cli(url, "enrollment"))[0] == 0
        conn = await asyncpg.connect(url)
        try:  # an event as pg_restore leaves it on a fresh instance: a transaction id not reached here
            await conn.execute("INSERT INTO events (tx, stream_id, version, event_id, type, data, metadata) "
                               "VALUES ('99000000000', 'org-1', 1, gen_random_uuid(), 'OrgRegistered', '{}', '{}')")
        finally:
            await conn.close()
        code, out = await run_cli(url, "enrollment", "--check")
        assert code == 3 and f"pending {RENUMBER_RESTORED}" in out, out
        assert (await run_cli(url, "enrollment", "--wait", "1"))[0] == 3  # the pods' init container waits
        code, out = await run_cli(url, "enrollment")  # the Job
        assert code == 0 and "1 renumbered" in out, out
        assert (await run_cli(url, "enrollment", "--check"))[0] == 0
    finally:
        await drop_database(url)


async def test_unknown_service_is_refused(pg_server_url):
    code, out = await run_cli(pg_server_url, "payroll")
    assert code != 0 and "no service named 'payroll'" in out


async def test_lifespan_skips_migrations_when_migrate_on_start_is_false(settings_for, pg_server_url):
    url = with_database(pg_server_url, f"t_mig_{uuid.uuid4().hex[:10]}")
    spec = importlib.import_module("services.enrollment.main").spec
    try:
        async with running(create_app(spec, settings_for("enrollment", database_url=url, migrate_on_start=False))):
            pass
        assert await tables(url) == set()  # the database exists (ensure_database), the schema does not
        code, out = await run_cli(url, "enrollment")
        assert code == 0, out
        async with running(create_app(spec, settings_for("enrollment", database_url=url))):
            pass  # and the default still migrates at start: nothing left to do, no error
        assert ENROLLMENT_TABLES <= await tables(url)
    finally:
        await drop_database(url)
