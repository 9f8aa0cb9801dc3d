"""`ttadmin` as an operator runs it: a separate process (python -m shared.admin) against real
PostgreSQL and NATS, while this process plays the service (relay and live consumer).

Each test gets a database of its own, so "every event" in a store rebuild is this test's."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.auth import JwtVerifier
from shared.bus import BusNames
from shared.db import create_pool, drop_database, ensure_database, migrate, with_database
from shared.devkeys import DEV_AUDIENCE, DEV_ISSUER
from shared.envelope import NewEvent
from shared.projection import Applier, Delivery, checkpoint_key
from shared.settings import REPO_ROOT
from tests.admin_spec import FIXES_DDL, FUSSY, TALLY, Fussy
from tests.conftest import eventually
from tests.kernel import append_streams, background, connected_bus, consumer, expected_tally, relay
from tests.tally import Tally, applied_count, snapshot

SPEC = "tests.admin_spec:spec"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


async def ttadmin(*args: str, **extra_env: str) -> Run:
    env = {**os.environ, "COLUMNS": "200"}
    for var in ("DATABASE_URL", "NATS_URL", "BUS_NAMESPACE", "SERVICE_TOKEN", "SERVICE_NAME",
                "TTADMIN_DATABASE_URL"):
        env.pop(var, None)  # every test names its targets
    env.update(extra_env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.admin", *args, cwd=REPO_ROOT, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return Run(proc.returncode, out.decode(), err.decode())


@pytest.fixture
async def admin_db(pg_server_url):
    """(url, pool) of a fresh database with the kernel tables and the tally read model."""
    url = with_database(pg_server_url, f"t_adm_{uuid.uuid4().hex[:10]}")
    await ensure_database(url)
    pool = await create_pool(url, min_size=1, max_size=10)
    async with pool.acquire() as conn:
        await migrate(conn, Path(__file__).parent / "kernel_migrations")
        await conn.execute(FIXES_DDL)
    yield url, pool
    await pool.close()
    await drop_database(url)


def targets(url: str, nats_url: str, namespace: str) -> list[str]:
    return ["--database-url", url, "--nats-url", nats_url, "--namespace", namespace, "--spec", SPEC]


async def test_rebuild_shows_progress_and_ends_with_the_same_read_model(admin_db, nats_url, namespace):
    url, pool = admin_db
    names = BusNames(namespace)
    by_stream = await append_streams(pool, streams=6, per_stream=5)
    async with connected_bus(nats_url, names) as bus:
        # The live side keeps running throughout: the CLI rebuilds next to it, as in production.
        async with background(relay(url, bus, names), consumer(pool, bus, names, Tally(TALLY))):
            await eventually(lambda: _applied(pool, TALLY, 30), message="live read model built")
            live = await snapshot(pool, TALLY)
            assert live == expected_tally(by_stream)

            for source in ("auto", "stream"):  # auto = the service's own store
                # Damage the read model: only a real reset and re-apply gets back to `live`.
                await pool.execute("UPDATE tally SET total = total + 1000 WHERE projection = $1", TALLY)
                assert await snapshot(pool, TALLY) != live
                run = await ttadmin("rebuild", "enrollment", TALLY, "--source", source, "--batch", "7", "--yes",
                                    *targets(url, nats_url, namespace))
                assert run.code == 0, run
                assert f"rebuild {TALLY} ← enrollment {'store' if source == 'auto' else 'stream'}: 30/30 events" \
                       in run.err, run.err
                assert "30 events read" in run.out
                assert await snapshot(pool, TALLY) == live

            # --json for scripts: the summary alone on stdout.
            run = await ttadmin("rebuild", "enrollment", TALLY, "--json", "--yes", *targets(url, nats_url, namespace))
            assert run.code == 0, run
            doc = run.json()
            assert (doc["events"], doc["applied"], doc["dead_letters"]) == (30, 30, 0)
            assert doc["sources"] == [{"service": "enrollment", "kind": "store", "read": 30}]
            assert await snapshot(pool, TALLY) == live


async def test_rebuild_refuses_a_store_restored_from_another_server_until_migrate_renumbers_it(admin_db):
    url, pool = admin_db
    await append_streams(pool, streams=2, per_stream=3)
    # As pg_restore leaves a store on a fresh instance: transaction ids that server has not reached.
    await pool.execute("UPDATE events SET tx = (tx::text::bigint + 1000000000000)::text::xid8")
    args = ["--database-url", url, "--spec", SPEC]
    run = await ttadmin("rebuild", "enrollment", TALLY, "--yes", *args)
    assert run.code == 1 and "restored from another server" in run.err and "shared.migrate" in run.err, run
    async with pool.acquire() as conn:
        await migrate(conn, Path(__file__).parent / "kernel_migrations")  # what the service does at start
    run = await ttadmin("rebuild", "enrollment", TALLY, "--yes", "--json", *args)
    assert run.code == 0, run
    assert run.json()["events"] == 6


async def test_dead_letter_replay_applies_the_fixed_message(admin_db, nats_url, namespace):
    url, pool = admin_db
    names = BusNames(namespace)
    kinds = ["Counted", "Poison", "Counted"]
    [(stream, events)] = (await append_streams(
        pool, streams=1, per_stream=3, make=lambda i: NewEvent(kinds[i], {"n": i + 1}))).items()
    poison = events[1]
    async with connected_bus(nats_url, names) as bus:
        async with background(relay(url, bus, names), consumer(pool, bus, names, Fussy(FUSSY), max_deliveries=2)):
            await eventually(lambda: _applied(pool, FUSSY, 2), message="the events around the poison applied")
    args = ["--database-url", url, "--spec", SPEC]

    listed = await ttadmin("dead-letters", "list", "enrollment", FUSSY, "--json", "--database-url", url)
    assert listed.code == 0, listed
    [dl] = listed.json()["dead_letters"]
    assert dl["event_id"] == str(poison.id) and dl["type"] == "Poison" and dl["deliveries"] == 2
    assert "PoisonError" in dl["error"]
    shown = await ttadmin("dead-letters", "show", "enrollment", str(dl["id"]), "--database-url", url)
    assert json.loads(shown.out)["envelope"]["id"] == str(poison.id)
    table = await ttadmin("projections", "enrollment", "--json", *targets(url, nats_url, namespace))
    assert {r["projection"]: r["dead_letters"] for r in table.json()["projections"]}[FUSSY] == 1

    # Not fixed yet: the replay runs the handler, which fails again, and nothing changes.
    run = await ttadmin("dead-letters", "replay", "enrollment", str(dl["id"]), *args)
    assert run.code == 1 and "handler failed again" in run.out, run
    assert await _pending(pool, FUSSY) == [dl["id"]]
    assert (await snapshot(pool, FUSSY))[stream][:2] == (2, 1 + 3)

    # A rebuild re-dead-letters what still fails, and says so with exit code 3.
    run = await ttadmin("rebuild", "enrollment", FUSSY, "--yes", *args)
    assert run.code == 3 and "1 event(s) failed and were dead-lettered" in run.err, run
    [again] = await _pending(pool, FUSSY)
    assert again != dl["id"]

    # The fix is deployed: now the replay applies the event and marks the dead letter.
    await pool.execute("INSERT INTO admin_fixes (event_type) VALUES ('Poison')")
    run = await ttadmin("dead-letters", "replay", "enrollment", "--all", "--projection", FUSSY, *args)
    assert run.code == 0 and f"dead letter {again} ({FUSSY}): applied" in run.out, run
    count, total, seen = (await snapshot(pool, FUSSY))[stream]
    assert (count, total) == (3, 1 + 2 + 3) and str(poison.id) in seen
    assert await _pending(pool, FUSSY) == []
    assert await pool.fetchval("SELECT replayed_at IS NOT NULL FROM dead_letters WHERE id = $1", again)
    assert (await ttadmin("dead-letters", "list", "enrollment", "--json", "--database-url", url)).json() == \
        {"dead_letters": []}
    everything = (await ttadmin("dead-letters", "list", "enrollment", "--all", "--json", "--database-url", url)).json()
    assert [d["id"] for d in everything["dead_letters"]] == [again]

    # Once only.
    run = await ttadmin("dead-letters", "replay", "enrollment", str(again), *args)
    assert run.code == 1 and "already replayed" in run.out
    assert (await snapshot(pool, FUSSY))[stream][0] == 3


async def test_dead_letters_replay_by_stream_and_all_in_order_and_discard_with_a_reason(admin_db):
    url, pool = admin_db
    kinds = ["Counted", "Poison", "Counted", "Poison"]
    applier = Applier(Fussy(FUSSY), max_deliveries=1)  # parked at the first failure
    streams = []
    for make in (lambda i: NewEvent(kinds[i], {"n": i + 1}), lambda i: NewEvent("Poison", {"n": 10})):
        [(stream, events)] = (await append_streams(pool, streams=1, per_stream=4 if not streams else 1,
                                                   make=make)).items()
        await applier.apply(pool, [Delivery(e) for e in events])
        streams.append((stream, checkpoint_key(events[0]), events))
    (stream, key, events), (_, other_key, _) = streams
    pending = (await ttadmin("dead-letters", "list", "enrollment", FUSSY, "--json", "--database-url", url)).json()
    ids = {(d["stream_id"], d["version"]): d["id"] for d in pending["dead_letters"]}
    assert set(ids) == {(key, 2), (key, 4), (other_key, 1)}
    assert {d["state"] for d in pending["dead_letters"]} == {"pending"}
    args = ["--database-url", url, "--spec", SPEC]

    # Not fixed yet: the stream's first still fails, the one after it is held back; exit 1.
    run = await ttadmin("dead-letters", "replay", "enrollment", "--stream", key, *args)
    assert run.code == 1 and run.out.count("): still failing") == 2 and "2 still failing." in run.out, run
    assert "handler failed again" in run.out and f"dead letter {ids[key, 2]} (version 2) of this stream" in run.out

    # Usage: a blank reason, no reason, ids with --stream: exit 2, nothing changes.
    for bad in (["discard", "enrollment", str(ids[other_key, 1]), "--reason", " ", "--by", "ops-li"],
                ["discard", "enrollment", str(ids[other_key, 1])],
                ["replay", "enrollment", str(ids[key, 2]), "--stream", key]):
        run = await ttadmin("dead-letters", *bad, *args[:2])
        assert run.code == 2, (bad, run)
    run = await ttadmin("dead-letters", "discard", "enrollment", str(ids[other_key, 1]), "--reason",
                        "测试数据，不应计入", "--by", "ops-li", "--database-url", url)
    assert run.code == 0 and "discarded by ops-li" in run.out, run
    [gone] = (await ttadmin("dead-letters", "list", "enrollment", "--state", "discarded", "--json",
                            "--database-url", url)).json()["dead_letters"]
    assert (gone["id"], gone["discarded_by"], gone["discard_reason"]) == (
        ids[other_key, 1], "ops-li", "测试数据，不应计入")
    run = await ttadmin("dead-letters", "discard", "enrollment", str(ids[other_key, 1]), "--reason", "again",
                        "--database-url", url)
    assert run.code == 1 and "not discarded" in run.out and "by ops-li" in run.out, run

    # Fixed: --all replays what is pending, each stream in version order, and says so per dead letter.
    await pool.execute("INSERT INTO admin_fixes (event_type) VALUES ('Poison')")
    run = await ttadmin("dead-letters", "replay", "enrollment", "--all", *args)
    assert run.code == 0, run
    lines = [line for line in run.out.splitlines() if line.startswith("dead letter")]
    assert lines == [f"dead letter {ids[key, 2]} ({FUSSY}): applied (stream {key} version 2)",
                     f"dead letter {ids[key, 4]} ({FUSSY}): applied (stream {key} version 4)"], run.out
    assert "2 applied." in run.out
    assert (await snapshot(pool, FUSSY))[stream][:2] == (4, 1 + 2 + 3 + 4)
    # The discarded one is not pending: a replay by id refuses it (exit 1); the records all stay.
    run = await ttadmin("dead-letters", "replay", "enrollment", str(ids[other_key, 1]), *args)
    assert run.code == 1 and "not pending" in run.out and "discarded" in run.out, run
    everything = (await ttadmin("dead-letters", "list", "enrollment", "--all", "--json",
                                "--database-url", url)).json()["dead_letters"]
    assert sorted((d["id"], d["state"], d["replay_result"]) for d in everything) == sorted(
        [(ids[key, 2], "replayed", "applied"), (ids[key, 4], "replayed", "applied"),
         (ids[other_key, 1], "discarded", None)])
    assert (await ttadmin("dead-letters", "replay", "enrollment", "--all", *args)).out.strip() == "Nothing to replay."
    table = await ttadmin("dead-letters", "list", "enrollment", "--all", "--database-url", url)
    assert table.code == 0 and "discarded by ops-li" in table.out and "replayed (applied)" in table.out, table


async def test_outbox_reports_depth_until_the_relay_drains_it(admin_db, nats_url, namespace):
    url, pool = admin_db
    names = BusNames(namespace)
    by_stream = await append_streams(pool, streams=2, per_stream=3)
    first = min(e.position for evs in by_stream.values() for e in evs)

    run = await ttadmin("outbox", "enrollment", "--json", "--database-url", url)
    assert run.code == 0, run
    [row] = run.json()["outbox"]
    assert (row["depth"], row["oldest_position"], row["relay_leader"]) == (6, first, None)
    assert row["oldest_age_seconds"] >= 0

    async with connected_bus(nats_url, names) as bus:
        async with background(relay(url, bus, names)):
            await eventually(lambda: _outbox_empty(pool), message="relay drained the outbox")
            run = await ttadmin("outbox", "enrollment", "--json", "--database-url", url)
            [row] = run.json()["outbox"]
            assert (row["depth"], row["oldest_age_seconds"]) == (0, None)
            assert row["relay_leader"] is not None  # the running relay holds the leader lock
            table = await ttadmin("outbox", "enrollment", "--database-url", url)
            assert table.code == 0 and "enrollment" in table.out and "pid" in table.out


async def test_projections_lists_checkpoint_and_lag(admin_db, nats_url, namespace):
    url, pool = admin_db
    names = BusNames(namespace)
    by_stream = await append_streams(pool, streams=2, per_stream=2)
    head = max(e.position for evs in by_stream.values() for e in evs)
    args = targets(url, nats_url, namespace)

    async def rows() -> dict[str, dict]:
        run = await ttadmin("projections", "enrollment", "--json", *args)
        assert run.code == 0, run
        return {r["projection"]: r for r in run.json()["projections"]}

    async with connected_bus(nats_url, names) as bus:
        async with background(relay(url, bus, names)):
            await eventually(lambda: _outbox_empty(pool), message="events published")
        live = consumer(pool, bus, names, Tally(TALLY))
        await live._subscribe()  # the durable consumer exists, nothing consumed yet
        before = await rows()
        assert before[TALLY]["source"] == "enrollment"
        assert (before[TALLY]["lag"], before[TALLY]["last_position"], before[TALLY]["applied"]) == (4, 0, 0)
        assert before[FUSSY]["lag"] is None and "no durable consumer" in before[FUSSY]["lag_note"]

        async with background(live):
            await eventually(lambda: _applied(pool, TALLY, 4), message="consumer applied")

            async def caught_up() -> bool:
                r = (await rows())[TALLY]
                return (r["lag"], r["last_position"], r["applied"]) == (0, head, 4)

            await eventually(caught_up, timeout=60, interval=0.5, message="ttadmin shows the projection caught up")
        table = await ttadmin("projections", "enrollment", *args)
        assert table.code == 0 and TALLY in table.out and FUSSY in table.out

    # The real services' specs load: reporting's consumers, one row per source.
    from services.reporting.projector import PROJECTIONS

    run = await ttadmin("projections", "reporting", "--json", "--database-url", url, "--nats-url", nats_url,
                        "--namespace", namespace)
    assert run.code == 0, run
    got = {(r["projection"], r["source"]) for r in run.json()["projections"] if r["kind"] == "consumer"}
    assert got == {(p.name, s) for p in PROJECTIONS for s in p.sources}


async def test_token_is_a_jwt_the_services_accept(keys_dir):
    run = await ttadmin("token", "--role", "county_admin", "--org", "610102", "--keys-dir", str(keys_dir))
    assert run.code == 0, run
    principal = JwtVerifier(keys_dir / "jwks.json", DEV_ISSUER, DEV_AUDIENCE).verify(run.out.strip())
    assert (principal.role, principal.org, principal.sub) == ("county_admin", "610102", "dev-county_admin-610102")

    no_org = await ttadmin("token", "--role", "county_admin", "--keys-dir", str(keys_dir))
    assert no_org.code == 2 and "needs --org" in no_org.err and no_org.out == ""
    bad_role = await ttadmin("token", "--role", "janitor", "--keys-dir", str(keys_dir))
    assert bad_role.code == 2 and "unknown role" in bad_role.err


async def test_usage_errors_exit_2_before_touching_anything():
    unknown = await ttadmin("rebuild", "credits", "no_such_model", "--yes")
    assert unknown.code == 2 and "credits_compliance" in unknown.err  # it lists what there is
    foreign_store = await ttadmin("rebuild", "reporting", "reporting_directory", "--source", "store", "--yes")
    assert foreign_store.code == 2 and "--source feed" in foreign_store.err


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL") or os.environ.get("NATS_URL")),
                    reason="needs the embedded servers, laid out as `make run` lays them out")
async def test_without_options_it_finds_the_dev_stack(workdir, pg_server_url, nats_url, namespace):
    # The test session's servers live under `workdir` exactly as `make run`'s live under .data:
    # PostgreSQL in pg/ (socket only), NATS with its store in nats/ on a free port.
    url = with_database(pg_server_url, "tt_enrollment")
    await ensure_database(url)
    pool = await create_pool(url, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, Path(__file__).parent / "kernel_migrations")
        await append_streams(pool, streams=1, per_stream=3)
        run = await ttadmin("outbox", "enrollment", "--json", DATA_DIR=str(workdir))
        assert run.code == 0, run
        assert run.json()["outbox"][0]["depth"] == 3

        names = BusNames(namespace)
        async with connected_bus(nats_url, names) as bus:
            async with background(relay(url, bus, names)):
                await eventually(lambda: _outbox_empty(pool), message="events published")
            await consumer(pool, bus, names, Tally(TALLY))._subscribe()  # a durable with nothing consumed
            run = await ttadmin("projections", "enrollment", "--json", "--namespace", namespace, "--spec", SPEC,
                                DATA_DIR=str(workdir))
        assert run.code == 0, run
        row = {r["projection"]: r for r in run.json()["projections"]}[TALLY]
        assert (row["lag"], row["lag_note"]) == (3, "")  # NATS found: measured, not "unreachable"
    finally:
        await pool.close()
        await drop_database(url)

    nowhere = await ttadmin("outbox", "enrollment", DATA_DIR=str(workdir / "no-such-stack"))
    assert nowhere.code == 1 and "--database-url" in nowhere.err


async def _applied(pool, name: str, n: int) -> bool:
    return await applied_count(pool, name) >= n


async def _outbox_empty(pool) -> bool:
    return await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def _pending(pool, name: str) -> list[int]:
    return [r["id"] for r in await pool.fetch(
        "SELECT id FROM dead_letters WHERE projection = $1 AND replayed_at IS NULL ORDER BY id", name)]
