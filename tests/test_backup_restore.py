"""Backup → restore → rebuild (issue 19, acceptance 5; the runbook is docs/operations.md,
"Restoring from a backup").

The four services run a realistic world through their HTTP APIs over real NATS
(tests/everything.py). Each service database is dumped with pg_dump (custom format, the
embedded server's own client tools), the original databases are dropped, and the archives are
restored with pg_restore into a fresh PostgreSQL instance (another data folder, another socket).
The services start on the restored databases against the same NATS, whose streams still hold
every event; every projection is rebuilt from the restored event stores and the owners' feeds;
and every read-model table of every service must equal, row for row, what it held when the
backup was taken. The relay's cursor comes back with its database, so nothing is published
again.

A restored store reads whole only because `migrate` renumbers the transaction ids its events
carry from the old server (shared/eventstore.py, adopt_restored_events): without it the restored
enrollment store read 39 of its 110 events (tests/test_restored_store.py: and what the new
server appended sorted before them, behind the relay's cursor, never published).

The second test takes the backup while commands keep arriving: each dump runs in an MVCC
snapshot exported by a transaction that reads every table in the same snapshot, so what the
archive holds is known exactly even under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import nats
import pytest

from shared.bus import BusNames
from shared.db import create_pool, ensure_database, migrate, with_database
from shared.devstack import pg_tool, start_postgres, stop_postgres
from shared.eventstore import EventStore
from shared.feed import store_source
from shared.inline import InlineReplay
from shared.projection import rebuild
from shared.service import migration_dirs
from shared.settings import REPO_ROOT
from tests.conftest import client_for, eventually
from tests.everything import (
    SERVICES,
    SYSTEMS_OF_RECORD,
    at_head,
    four_services,
    national_id,
    ok,
    populate,
    rebuild_everything,
    snapshot,
    tables_of,
)
from tests.reporting.scenario import PROVINCE, S1

# Consumers before the services they read (the runbook's order): no database then holds the effect
# of an event its source's archive lacks, and a reaction missing from an archive (an award for a
# completion) is appended again by the rebuild of the projection that reacts.
DUMP_ORDER = ("reporting", "credits", "funding", "enrollment")
FIGURES = REPO_ROOT / "test-output" / "backup-restore"  # timings, quoted by docs/operations.md


@pytest.fixture
def fresh_postgres(workdir: Path):
    """A second PostgreSQL server with nothing of the first: its own data folder and socket."""
    folder = workdir / f"restored-{uuid.uuid4().hex[:8]}"
    url = start_postgres(folder)
    yield url
    stop_postgres(folder)


async def _run(*args: str) -> float:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 0, f"{Path(args[0]).name} failed ({proc.returncode}): {err.decode()}"
    return time.monotonic() - started


async def pg_dump(url: str, archive: Path, snapshot_id: str | None = None) -> float:
    """One database, custom format (compressed; pg_restore picks what to restore). Returns seconds."""
    extra = [f"--snapshot={snapshot_id}"] if snapshot_id else []
    return await _run(pg_tool("pg_dump"), "--format=custom", f"--file={archive}", *extra, f"--dbname={url}")


async def pg_restore(archive: Path, url: str) -> float:
    """Into a new, empty database. --no-owner: the new instance's roles need not be the old ones';
    --exit-on-error: a restore that stops half way fails here instead of leaving half a database."""
    await ensure_database(url)
    return await _run(pg_tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={url}", str(archive))


async def stream_messages(nats_url: str, namespace: str) -> dict[str, int]:
    """Messages in each service's JetStream stream of this namespace."""
    nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=1)
    try:
        js, names, out = nc.jetstream(), BusNames(namespace), {}
        for info in await js.streams_info():
            for s in SERVICES:
                if info.config.name == names.stream(s):
                    out[s] = info.state.messages
        return out
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def connected(url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


async def outbox_depths(apps: dict) -> dict[str, int]:
    return {s: await app.state.pool.fetchval("SELECT count(*) FROM outbox") for s, app in apps.items()}


async def _published(nats_url: str, namespace: str, before: dict[str, int], new: int) -> bool:
    return await stream_messages(nats_url, namespace) == {**before, "enrollment": before["enrollment"] + new}


def report(name: str, figures: dict) -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str))
    print(f"\n{name}: {json.dumps(figures, default=str)}")


def assert_equal(got: dict, want: dict, what: str) -> None:
    """Table by table, so a failure names the table."""
    for service in SERVICES:
        assert sorted(got[service]) == sorted(want[service]), f"{service}: tables differ {what}"
        for table in sorted(want[service]):
            assert got[service][table] == want[service][table], f"{service}.{table} differs {what}"


async def rebuild_all(apps: dict, figures: dict, tables: dict[str, set[str]]) -> None:
    """Every projection of every service, owners first: enrollment's inline tables from its own
    store, then the others, whose consumers read the owners' feeds."""
    for s in SERVICES:
        started = time.monotonic()
        covered = await rebuild_everything(apps[s])
        figures[f"rebuild {s} (s)"] = round(time.monotonic() - started, 2)
        missing = tables[s] - SYSTEMS_OF_RECORD.get(s, set()) - covered
        assert not missing, f"{s}: tables no projection rebuilds: {sorted(missing)}"


async def test_a_backup_restored_into_a_fresh_instance_and_rebuilt_reproduces_every_read_model(
        launch, keys_dir, nats_url, namespace, pg_server_url, fresh_postgres, tmp_path):
    assert fresh_postgres != pg_server_url
    figures: dict = {}
    async with four_services(launch, keys_dir, bus_namespace=namespace) as apps:
        await populate(apps, keys_dir)
        tables = {s: await tables_of(app.state.pool) for s, app in apps.items()}
        taken = {s: await snapshot(app.state.pool, tables[s]) for s, app in apps.items()}
        for s in SERVICES:
            assert sum(map(len, taken[s].values())) > 0, f"{s}: the world left nothing to back up"
        for s in DUMP_ORDER:
            figures[f"events {s}"] = await apps[s].state.pool.fetchval("SELECT count(*) FROM events")
            figures[f"pg_dump {s} (s)"] = round(await pg_dump(apps[s].state.settings.database_url,
                                                              tmp_path / f"{s}.dump"), 2)
            figures[f"archive {s} (bytes)"] = (tmp_path / f"{s}.dump").stat().st_size
        published = await stream_messages(nats_url, namespace)
        assert await outbox_depths(apps) == dict.fromkeys(SERVICES, 0)
    # The original databases were dropped as the apps stopped (tests/conftest.py `launch`): from
    # here on the archives are all there is. NATS is untouched, and its streams still hold every event.

    restored = {s: with_database(fresh_postgres, f"tt_{s}") for s in SERVICES}
    for s in SERVICES:
        figures[f"pg_restore {s} (s)"] = round(await pg_restore(tmp_path / f"{s}.dump", restored[s]), 2)
    for s in SERVICES:  # the restore alone is exact, before any service touches it
        async with connected(restored[s]) as conn:
            assert await tables_of(conn) == tables[s]
            assert await snapshot(conn, tables[s]) == taken[s], f"{s}: the restore differs from the backup"

    async with four_services(launch, keys_dir, bus_namespace=namespace, database_urls=restored) as again:
        for s in SERVICES:  # the restored store reads whole, in order (the feed's and a rebuild's source)
            read = [e async for page in store_source(again[s].state.pool, again[s].state.store) for e in page]
            assert len(read) == figures[f"events {s}"], f"{s}: the restored store reads {len(read)} events"
        await rebuild_all(again, figures, tables)
        await at_head(again)
        rebuilt = {s: await snapshot(app.state.pool, tables[s]) for s, app in again.items()}
        # The relay's cursor came back with each database: nothing is published again, and no
        # rebuild of a reacting projection (credits' intake, funding's assessor) appended anything.
        assert await outbox_depths(again) == dict.fromkeys(SERVICES, 0)
        assert await stream_messages(nats_url, namespace) == published
        for s in SERVICES:
            assert await again[s].state.pool.fetchval("SELECT count(*) FROM events") == figures[f"events {s}"]
        # And the restored stack carries on: a new command's events are published and consumed.
        roster = "name,national_id,school_code,subject,stage,title,hired_on\n" \
                 f"恢复后,{national_id(90)},{S1},语文,小学,一级教师,2020-09-01\n"
        as_e = client_for(again["enrollment"], keys_dir, "http://enrollment")
        await ok(await as_e("province_admin", PROVINCE).post(
            "/v1/teachers/import", files={"file": ("roster.csv", roster.encode(), "text/csv")}), 200, 201)
        await at_head(again)
        new = await again["enrollment"].state.pool.fetchval("SELECT count(*) FROM events")
        new -= figures["events enrollment"]
        assert new > 0
        await eventually(lambda: _published(nats_url, namespace, published, new), message="the new events published")
    assert_equal(rebuilt, taken, "after restore and rebuild")
    report("quiesced", figures)


class Load:
    """Commands to three services, one after another until stopped, through their HTTP APIs:
    a school's spending (funding), a teacher's claim (credits), a roster import (enrollment).
    Each acknowledged command is kept with the moment it was acknowledged."""

    def __init__(self, apps: dict, keys_dir: Path, teachers: dict[str, str]) -> None:
        self.funding = client_for(apps["funding"], keys_dir, "http://funding")("school_admin", S1)
        self.credits = client_for(apps["credits"], keys_dir, "http://credits")("teacher", sub=teachers["T1"])
        self.enrollment = client_for(apps["enrollment"], keys_dir, "http://enrollment")("province_admin", PROVINCE)
        self.teacher = teachers["T1"]
        self.acked: list[tuple[float, str, str]] = []  # (monotonic time, service, stream id or "")
        self.stop = asyncio.Event()

    async def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            body = await ok(await self.funding.post("/v1/disbursements", json={
                "org_code": S1, "year": 2023, "amount_fen": 100 + i, "purpose": f"资料费 {i}"}), 201)
            self.acked.append((time.monotonic(), "funding", f"disbursement-{body['disbursement_id']}"))
            body = await ok(await self.credits.post("/v1/claims", json={
                "teacher_id": self.teacher, "hours": 1, "category": "workshop", "source": "workshop",
                "earned_on": "2023-09-15", "evidence": f"校本研修 {i}"}), 201)
            self.acked.append((time.monotonic(), "credits", f"claim-{body['claim_id']}"))
            roster = "name,national_id,school_code,subject,stage,title,hired_on\n" \
                     f"负载{i},{national_id(100 + i)},{S1},数学,初中,二级教师,2019-09-01\n"
            await ok(await self.enrollment.post("/v1/teachers/import", files={
                "file": ("roster.csv", roster.encode(), "text/csv")}), 200, 201)
            self.acked.append((time.monotonic(), "enrollment", ""))

    def before(self, service: str, moment: float) -> list[str]:
        return [stream for t, s, stream in self.acked if s == service and t < moment]


async def dump_in_snapshot(url: str, archive: Path, tables: set[str]) -> tuple[dict, set[str], float]:
    """pg_dump inside the MVCC snapshot of a transaction that reads every table and the event
    ids in that same snapshot: what the archive holds, known exactly while commands commit."""
    async with connected(url) as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        snapshot_id = await conn.fetchval("SELECT pg_export_snapshot()")
        seen = await snapshot(conn, tables)
        events = {r[0] for r in await conn.fetch("SELECT stream_id FROM events")}
        took = await pg_dump(url, archive, snapshot_id)
    return seen, events, took


async def test_a_backup_taken_while_commands_arrive_restores_consistent_and_rebuilds_exactly(
        launch, keys_dir, nats_url, namespace, fresh_postgres, tmp_path):
    figures: dict = {}
    async with four_services(launch, keys_dir, bus_namespace=namespace) as apps:
        world = await populate(apps, keys_dir)
        tables = {s: await tables_of(app.state.pool) for s, app in apps.items()}
        load = Load(apps, keys_dir, world.teachers)
        running = asyncio.create_task(load.run())
        await eventually(lambda: _acked(load, 6), message="the load under way")
        seen, events, started, during = {}, {}, {}, {}
        for s in DUMP_ORDER:
            started[s], acked = time.monotonic(), len(load.acked)
            seen[s], events[s], took = await dump_in_snapshot(
                apps[s].state.settings.database_url, tmp_path / f"{s}.dump", tables[s])
            during[s] = len(load.acked) - acked
            figures[f"pg_dump {s} (s)"] = round(took, 2)
        load.stop.set()
        await running
        figures["commands acknowledged while the dumps ran"] = during
        assert sum(during.values()) > 0, "commands kept arriving while the dumps ran"
        await at_head(apps)  # the old consumers took everything, the events after the dumps included
    # The originals are gone (dropped as the apps stopped); the archives are all there is.

    restored = {s: with_database(fresh_postgres, f"tt_{s}") for s in SERVICES}
    for s in SERVICES:
        await pg_restore(tmp_path / f"{s}.dump", restored[s])
        async with connected(restored[s]) as conn:  # exactly what the dump's snapshot saw
            assert await snapshot(conn, tables[s]) == seen[s], f"{s}: the restore differs from its snapshot"
            assert {r[0] for r in await conn.fetch("SELECT stream_id FROM events")} == events[s]
            figures[f"outbox {s} at the backup"] = await conn.fetchval("SELECT count(*) FROM outbox")
        # Every command acknowledged before its service's dump began is in the backup.
        assert set(load.before(s, started[s])) - {""} <= events[s], f"{s}: an acknowledged command is missing"

    for s in SERVICES:
        # A service's inline tables commit with its events: the restored store alone rebuilds them
        # exactly. Checked before the services start: the rebuild of a reacting consumer (funding's
        # assessor) then records what its archive had not reacted to yet, and those tables move on.
        for t, rows in (await rebuilt_inline(restored[s], s)).items():
            assert rows == seen[s][t], f"{s}.{t}: the backup's events do not rebuild its read model"

    async with four_services(launch, keys_dir, bus_namespace=namespace, database_urls=restored) as again:
        await rebuild_all(again, figures, tables)
        await at_head(again)
        rebuilt = {s: await snapshot(app.state.pool, tables[s]) for s, app in again.items()}
        # Consumers' tables may have been dumped ahead of or behind their sources: the rebuild
        # made them what the restored record says.
        figures["consumer rows the rebuild changed"] = {
            s: sum(len(set(rebuilt[s][t]) ^ set(seen[s][t])) for t in tables[s]) for s in SERVICES}
        # The relay republished each database's outbox at the backup and the live consumers
        # received those events again: a second rebuild finds nothing applied twice.
        await eventually(lambda: _drained(again), message="every outbox drained")
        await rebuild_all(again, {}, tables)
        again_rebuilt = {s: await snapshot(app.state.pool, tables[s]) for s, app in again.items()}
    assert_equal(again_rebuilt, rebuilt, "between two rebuilds of the restored stack")
    report("under-load", figures)


async def rebuilt_inline(url: str, service: str) -> dict[str, list[str]]:
    """The service's inline tables rebuilt from its restored store alone, no service running
    (migrate first: it renumbers the restored events, without which the store reads short)."""
    spec = importlib.import_module(f"services.{service}.main").spec
    if not spec.inline:
        return {}
    pool = await create_pool(url, 1, 4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, *migration_dirs(spec))
        replay = InlineReplay(spec.name, spec.inline)
        await rebuild(pool, replay, store_source(pool, EventStore(spec.name, spec.registry)))
        return await snapshot(pool, set(replay.tables))
    finally:
        await pool.close()


async def _acked(load: Load, n: int) -> bool:
    return len(load.acked) >= n


async def _drained(apps: dict) -> bool:
    return set((await outbox_depths(apps)).values()) == {0}
