"""The HTTP side of the kernel on a real service app: Idempotency-Key, problem+json,
409/412 from optimistic concurrency, health endpoints — against real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import collections
import uuid
from typing import Annotated

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from shared.auth import Principal
from shared.envelope import EventRegistry
from shared.eventstore import NO_STREAM
from shared.feed import store_source
from shared.inline import InlineProjection, InlineReplay, _commit_statement, at_commit
from shared.projection import rebuild
from shared.refusal import Refused
from shared.service import ServiceSpec, create_app
from shared.unit_of_work import (
    MAX_ATTEMPTS,
    Command,
    CommandContext,
    Reply,
    UnitOfWork,
    _Pruned,
    open_command,
)
from tests.conftest import eventually, running

REGISTRY = EventRegistry()
for _type in ("WidgetMade", "WidgetRenamed", "WidgetPainted", "WidgetCounted"):
    REGISTRY.register(_type)

# An inline projection as services declare theirs: a guard-like unique name and a read model.
WIDGETS = InlineProjection("widgets", ("widgets",))
MIGRATION = """CREATE TABLE IF NOT EXISTS widgets (id text PRIMARY KEY, name text NOT NULL, size int,
                                                    version int NOT NULL);
               CREATE UNIQUE INDEX IF NOT EXISTS widgets_unique_name ON widgets (name) WHERE name LIKE 'unique-%';
               CREATE TABLE IF NOT EXISTS widget_tally (k text PRIMARY KEY, n int NOT NULL CHECK (n <= 3))"""
# A guard-like hot row every count of one name writes, at commit (shared/inline.py at_commit), with a
# backstop: a name counts at most three times.
TALLY = InlineProjection("widget_tally", ("widget_tally",))


@WIDGETS.handles("WidgetMade")
async def _made(conn, stream_id: str, version: int, d: dict) -> None:
    await conn.execute("INSERT INTO widgets (id, name, size, version) VALUES ($1, $2, $3, $4)",
                       stream_id, d["name"], d["size"], version)


@WIDGETS.handles("WidgetRenamed", "WidgetPainted")
async def _renamed(conn, stream_id: str, version: int, d: dict) -> None:
    await conn.execute("UPDATE widgets SET name = $2, version = $3 WHERE id = $1", stream_id, d["name"], version)


@TALLY.handles("WidgetCounted")
async def _counted(conn, stream_id: str, version: int, d: dict) -> None:
    await at_commit(conn, COUNTED, d["name"])


COUNTED = "INSERT INTO widget_tally (k, n) VALUES ($1, 1) ON CONFLICT (k) DO UPDATE SET n = widget_tally.n + 1"


class WidgetCreate(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    size: int = Field(ge=1, le=100)


class WidgetRename(BaseModel):
    name: str = Field(min_length=1, max_length=50)


async def _version(uow: UnitOfWork, stream: str) -> int:
    return await uow.conn.fetchval("SELECT coalesce(max(version), 0) FROM events WHERE stream_id = $1", stream)


def widget_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/widgets", status_code=201)
    async def create(body: WidgetCreate, cmd: Command):
        async def handle(uow: UnitOfWork) -> Reply:
            if body.name == "forbidden":
                raise Refused("name_forbidden", "that name is reserved")
            wid = uuid.uuid4()
            uow.record(f"widget-{wid}", NO_STREAM, [("WidgetMade", body.model_dump())])
            return Reply(201, {"id": str(wid), "version": 1}, {"ETag": '"1"'})
        return await cmd.run(handle)

    @router.post("/v1/widgets/{wid}/rename")
    async def rename(wid: uuid.UUID, body: WidgetRename, cmd: Command,
                     if_match: Annotated[str | None, Header()] = None):
        async def handle(uow: UnitOfWork) -> Reply:
            stream = f"widget-{wid}"
            expected = uow.expect(stream, await _version(uow, stream))
            uow.record(stream, expected, [("WidgetRenamed", body.model_dump())])
            return Reply(200, {"version": expected + 1}, {"ETag": f'"{expected + 1}"'})
        return await cmd.run(handle)

    @router.post("/v1/widgets/{wid}/paint")
    async def paint(wid: uuid.UUID, body: WidgetRename, cmd: Command):
        # Recorded events append at the end of the command, after the idempotency record.
        async def handle(uow: UnitOfWork) -> Reply:
            version = await _version(uow, f"widget-{wid}")
            uow.record(f"widget-{wid}", version, [("WidgetPainted", body.model_dump())])
            return Reply(200, {"version": version + 1})
        return await cmd.run(handle)

    @router.post("/v1/widgets/{wid}/stamp")
    async def stamp(wid: uuid.UUID, body: WidgetRename, cmd: Command):
        # Named up front: the lock is taken in the command's first statement, before the facts.
        async def handle(uow: UnitOfWork) -> Reply:
            await uow.lock(f"widget-stamp:{wid}")  # held already: no statement
            RUNS[body.name] += 1
            seen = uow.expect(f"widget-{wid}", await _version(uow, f"widget-{wid}"))
            if body.name in HOLD:
                REACHED[body.name].set()
                await HOLD[body.name].wait()
            uow.record(f"widget-{wid}", seen, [("WidgetPainted", body.model_dump())])
            return Reply(200, {"seen": seen})
        return await cmd.run(handle, locks=[f"widget-stamp:{wid}"])

    @router.post("/v1/widgets/{wid}/count")
    async def count(wid: uuid.UUID, body: WidgetRename, cmd: Command):
        async def handle(uow: UnitOfWork) -> Reply:
            RUNS[body.name] += 1
            version = await _version(uow, f"widget-{wid}")
            uow.record(f"widget-{wid}", version, [("WidgetCounted", body.model_dump())])
            return Reply(200, {"version": version + 1})
        return await cmd.run(handle)

    return router


# A stamp named in HOLD waits there after reading its facts, and says so in REACHED; RUNS counts
# how often each name's handler ran (the kernel runs a command again on a race).
HOLD: dict[str, asyncio.Event] = collections.defaultdict(asyncio.Event)
REACHED: dict[str, asyncio.Event] = collections.defaultdict(asyncio.Event)
RUNS: collections.Counter[str] = collections.Counter()


@pytest.fixture
async def client(settings_for, token, tmp_path):
    (tmp_path / "0001_widgets.sql").write_text(MIGRATION)
    spec = ServiceSpec(name="enrollment", title="t", routers=[widget_router()], registry=REGISTRY,
                       migrations=tmp_path, inline=[WIDGETS, TALLY],
                       titles={"name_forbidden": "名称保留 Name reserved"})
    app = create_app(spec, settings_for("enrollment"))
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc",
                                     headers={"Authorization": f"Bearer {token('county_admin', '610102')}"}) as c:
            c.app = app
            yield c


async def _events(pool, stream_prefix="widget-") -> int:
    return await pool.fetchval("SELECT count(*) FROM events WHERE stream_id LIKE $1 || '%'", stream_prefix)


async def test_same_idempotency_key_and_body_replays_the_response_without_a_second_event(client, pool):
    before = await _events(pool)
    headers = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await client.post("/v1/widgets", json={"name": "黑板", "size": 3}, headers=headers)
    again = await client.post("/v1/widgets", json={"name": "黑板", "size": 3}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["ETag"] == '"1"'
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await _events(pool) == before + 1


async def test_same_key_other_body_is_422_and_writes_nothing(client, pool):
    headers = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    assert (await client.post("/v1/widgets", json={"name": "a", "size": 1}, headers=headers)).status_code == 201
    before = await _events(pool)
    other = await client.post("/v1/widgets", json={"name": "b", "size": 1}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["code"] == "idempotency_key_reused"
    assert await _events(pool) == before


async def test_concurrent_retries_with_one_key_record_one_event(client, pool):
    before = await _events(pool)
    headers = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    replies = await asyncio.gather(*(client.post("/v1/widgets", json={"name": "c", "size": 2}, headers=headers)
                                     for _ in range(10)))
    assert {r.status_code for r in replies} == {201}
    assert len({r.json()["id"] for r in replies}) == 1
    assert await _events(pool) == before + 1


async def test_no_key_means_no_dedup(client, pool):
    before = await _events(pool)
    for _ in range(2):
        assert (await client.post("/v1/widgets", json={"name": "d", "size": 2})).status_code == 201
    assert await _events(pool) == before + 2


@pytest.mark.parametrize("body", [{"name": "", "size": 1}, {"name": "x", "size": 10**30}, {"size": 1},
                                  "not json", {"name": "x", "size": "大"}])
async def test_bad_input_is_422_problem_json_and_writes_nothing(client, pool, body):
    before = await _events(pool)
    kwargs = {"content": body, "headers": {"content-type": "application/json"}} if isinstance(body, str) \
        else {"json": body}
    resp = await client.post("/v1/widgets", **kwargs)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    doc = resp.json()
    assert doc["code"] == "validation_error" and doc["status"] == 422 and doc["errors"]
    assert await _events(pool) == before


async def test_stale_if_match_is_412_and_a_lost_race_is_409(client, monkeypatch):
    created = (await client.post("/v1/widgets", json={"name": "e", "size": 1})).json()
    url = f"/v1/widgets/{created['id']}/rename"
    ok = await client.post(url, json={"name": "f"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    stale = await client.post(url, json={"name": "g"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    # Without If-Match a loser runs again; one that loses every attempt (here the only one) is 409.
    monkeypatch.setattr("shared.unit_of_work.MAX_ATTEMPTS", 1)
    replies = await asyncio.gather(*(client.post(url, json={"name": f"n{i}"}) for i in range(20)))
    codes = sorted(r.status_code for r in replies)
    assert 200 in codes and 409 in codes and set(codes) <= {200, 409}
    assert all(r.json()["code"] == "concurrency_conflict" for r in replies if r.status_code == 409)


async def test_commands_racing_on_one_stream_without_if_match_all_get_through(client, pool):
    """A command that lost its stream to a concurrent commit is decided again on the version that
    won. Each attempt loses only to a commit made during it, so MAX_ATTEMPTS concurrent commands on
    one stream all commit, one version each (before, all but the first were 409)."""
    wid = (await client.post("/v1/widgets", json={"name": "herd", "size": 1})).json()["id"]
    replies = await asyncio.gather(*(client.post(f"/v1/widgets/{wid}/rename", json={"name": f"h{i}"})
                                     for i in range(MAX_ATTEMPTS)))
    assert [r.status_code for r in replies] == [200] * MAX_ATTEMPTS, [r.text for r in replies]
    assert sorted(r.json()["version"] for r in replies) == list(range(2, MAX_ATTEMPTS + 2))
    assert await pool.fetchval("SELECT array_agg(version ORDER BY version) FROM events WHERE stream_id = $1",
                               f"widget-{wid}") == list(range(1, MAX_ATTEMPTS + 2))


async def test_a_command_whose_stream_moved_on_is_decided_again_on_the_new_facts(client, pool):
    wid = (await client.post("/v1/widgets", json={"name": "moved", "size": 1})).json()["id"]
    HOLD["moved"] = asyncio.Event()
    held = asyncio.create_task(client.post(f"/v1/widgets/{wid}/stamp", json={"name": "moved"}))
    await asyncio.wait_for(REACHED["moved"].wait(), 10)  # it has read version 1
    painted = await client.post(f"/v1/widgets/{wid}/paint", json={"name": "painted"})
    assert painted.status_code == 200 and painted.json()["version"] == 2
    HOLD["moved"].set()
    stamped = await held
    assert stamped.status_code == 200, stamped.text
    assert stamped.json()["seen"] == 2 and RUNS["moved"] == 2  # run again, on the version that won
    assert await pool.fetchval("SELECT array_agg(type ORDER BY version) FROM events WHERE stream_id = $1",
                               f"widget-{wid}") == ["WidgetMade", "WidgetPainted", "WidgetPainted"]


async def test_a_command_pinned_by_if_match_is_412_when_its_stream_moves_on_and_is_not_run_again(client, pool):
    wid = (await client.post("/v1/widgets", json={"name": "pinned", "size": 1})).json()["id"]
    HOLD["pinned"] = asyncio.Event()
    held = asyncio.create_task(client.post(f"/v1/widgets/{wid}/stamp", json={"name": "pinned"},
                                           headers={"If-Match": '"1"', "Idempotency-Key": "pinned-1"}))
    await asyncio.wait_for(REACHED["pinned"].wait(), 10)  # If-Match held at its facts: version 1
    assert (await client.post(f"/v1/widgets/{wid}/paint", json={"name": "painted"})).status_code == 200
    HOLD["pinned"].set()
    stamped = await held
    assert stamped.status_code == 412 and stamped.json()["code"] == "precondition_failed"
    assert RUNS["pinned"] == 1
    assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", f"widget-{wid}") == 2
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'pinned-1'") == 0


async def test_missing_or_bad_token_is_401_problem(client):
    resp = await client.post("/v1/widgets", json={"name": "x", "size": 1}, headers={"Authorization": ""})
    assert resp.status_code == 401 and resp.json()["code"] == "missing_token"
    resp = await client.post("/v1/widgets", json={"name": "x", "size": 1},
                             headers={"Authorization": "Bearer not.a.jwt"})
    assert resp.status_code == 401 and resp.json()["code"] == "invalid_token"


async def test_unknown_route_is_404_problem(client):
    resp = await client.get("/v1/nothing-here")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"


async def test_actor_and_correlation_are_recorded_on_the_event(client, pool):
    created = await client.post("/v1/widgets", json={"name": "h", "size": 1},
                                headers={"X-Correlation-Id": "corr-42"})
    meta = await pool.fetchval("SELECT metadata FROM events WHERE stream_id = $1", f"widget-{created.json()['id']}")
    assert meta["actor"] == {"sub": "dev-county_admin-610102", "role": "county_admin", "org": "610102"}
    assert meta["correlationid"] == "corr-42"


async def test_a_deferred_append_that_loses_its_race_is_409_and_leaves_no_idempotency_record(client, pool,
                                                                                         monkeypatch):
    """Recorded events append at the end of the command, after the idempotency record is written:
    a loser's 409 must roll that record back too, so its retry runs again instead of replaying.
    (One attempt each: the kernel's own runs again would let most losers through.)"""
    monkeypatch.setattr("shared.unit_of_work.MAX_ATTEMPTS", 1)
    created = (await client.post("/v1/widgets", json={"name": "p", "size": 1})).json()
    url = f"/v1/widgets/{created['id']}/paint"
    keys = [f"paint-{uuid.uuid4()}" for _ in range(20)]
    replies = await asyncio.gather(*(client.post(url, json={"name": f"色{i}"}, headers={"Idempotency-Key": k})
                                     for i, k in enumerate(keys)))
    codes = [r.status_code for r in replies]
    assert 200 in codes and set(codes) <= {200, 409}
    won = codes.count(200)
    assert await _events(pool, f"widget-{created['id']}") == 1 + won
    losers = [k for k, c in zip(keys, codes, strict=True) if c == 409]
    assert losers, "twenty concurrent paints of one widget: some must lose"
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = ANY($1)", losers) == 0
    retry = await client.post(url, json={"name": "色0"}, headers={"Idempotency-Key": losers[0]})
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry.headers


async def test_expired_idempotency_keys_are_pruned_and_fresh_ones_kept(client, pool):
    from shared.unit_of_work import prune_idempotency_keys

    old, fresh = f"old-{uuid.uuid4()}", f"fresh-{uuid.uuid4()}"
    for key in (old, fresh):
        resp = await client.post("/v1/widgets", json={"name": "k", "size": 1}, headers={"Idempotency-Key": key})
        assert resp.status_code == 201
    await pool.execute("UPDATE idempotency_keys SET created_at = now() - interval '8 days' WHERE key = $1", old)
    assert await prune_idempotency_keys(pool, 7 * 86400, batch=1) >= 1  # batch=1: the loop runs
    left = {r["key"] for r in await pool.fetch("SELECT key FROM idempotency_keys WHERE key = ANY($1)", [old, fresh])}
    assert left == {fresh}
    # The pruned key is free again: the same request executes anew instead of replaying.
    again = await client.post("/v1/widgets", json={"name": "k", "size": 1}, headers={"Idempotency-Key": old})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers


async def test_inline_projection_rows_come_with_the_events_and_a_refusal_writes_nothing(client, pool):
    created = (await client.post("/v1/widgets", json={"name": "桌子", "size": 4})).json()
    assert await pool.fetchrow("SELECT name, size, version FROM widgets WHERE id = $1",
                               f"widget-{created['id']}") == ("桌子", 4, 1)
    before = await _events(pool)
    refused = await client.post("/v1/widgets", json={"name": "forbidden", "size": 4})
    assert refused.status_code == 409 and refused.headers["content-type"].startswith("application/problem+json")
    assert (refused.json()["code"], refused.json()["title"]) == ("name_forbidden", "名称保留 Name reserved")
    assert await _events(pool) == before


async def test_a_guard_constraint_that_fires_is_409_and_rolls_the_command_back(client, pool):
    """Two commands racing past their facts query to write the same unique fact: the loser's
    constraint violation is a 409 problem, and neither its event nor its idempotency record stays."""
    first = await client.post("/v1/widgets", json={"name": "unique-1", "size": 1})
    assert first.status_code == 201
    before = await _events(pool)
    dup = await client.post("/v1/widgets", json={"name": "unique-1", "size": 2}, headers={"Idempotency-Key": "dup-1"})
    assert dup.status_code == 409 and dup.json()["code"] == "concurrency_conflict"
    assert await _events(pool) == before
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'dup-1'") == 0


async def test_rebuilding_the_inline_tables_equals_live_and_holds_commands_back_meanwhile(client, pool):
    for i in range(30):
        made = (await client.post("/v1/widgets", json={"name": f"w{i}", "size": i + 1})).json()
        if i % 3 == 0:
            await client.post(f"/v1/widgets/{made['id']}/rename", json={"name": f"r{i}"})
    snap = "SELECT id, name, size, version FROM widgets ORDER BY id"
    live = await pool.fetch(snap)
    recorded = await pool.fetchval("SELECT count(*) FROM events")
    replay = InlineReplay("enrollment", [WIDGETS])
    store = client.app.state.store

    gate = asyncio.Event()

    async def slow_source():
        async for batch in store_source(pool, store, limit=7):
            await gate.wait()  # the first batch waits until a command is queued behind the rebuild
            yield batch

    rebuilding = asyncio.create_task(rebuild(pool, replay, slow_source()))
    await eventually(lambda: _lock_held(pool), message="the rebuild holds the inline lock")
    command = asyncio.create_task(client.post("/v1/widgets", json={"name": "during", "size": 1}))
    await eventually(lambda: _waiting_on_lock(pool), message="the command waits for the rebuild")
    assert not command.done()
    gate.set()
    assert await rebuilding == recorded
    assert (await command).status_code == 201
    rebuilt = await pool.fetch(snap)
    assert [r for r in rebuilt if r["name"] != "during"] == live
    assert await pool.fetchval("SELECT count(*) FROM projection_checkpoints WHERE projection = $1", replay.name) == 0


async def _lock_held(pool) -> bool:
    return await pool.fetchval("SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                               " AND mode = 'ExclusiveLock' AND ((classid::bigint << 32) | objid::bigint) = $1",
                               0x7474_696E_6C6E)


async def _waiting_on_lock(pool) -> bool:
    return await pool.fetchval("SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")


async def test_a_lean_rebuild_ends_as_the_full_one_even_when_a_handler_fails(client, pool):
    """`rebuild` reads the store lean for an inline replay (stream, version, type, data only).
    Read in full instead (any other source), the same events must leave the same tables, the same
    state and the same dead letter — including for a handler that fails on one event."""
    for i in range(20):
        await client.post("/v1/widgets", json={"name": f"lean{i}", "size": i + 1})
    flaky = InlineProjection("flaky", ())

    @flaky.handles("WidgetMade")
    async def _refuse_one(conn, stream_id, version, data) -> None:
        if data["name"] == "lean7":
            raise ValueError("lean7 is refused")

    store = client.app.state.store

    class Counted(InlineReplay):
        lean_pages = 0

        async def apply_lean(self, conn, page) -> None:
            self.lean_pages += 1
            await super().apply_lean(conn, page)

    async def in_full():  # not the store's own source: the ordinary path, envelopes and all
        async for batch in store_source(pool, store, limit=6):
            yield batch

    outcomes, lean_pages = {}, {}
    for kind, source in (("lean", store_source(pool, store, limit=6)), ("full", in_full())):
        replay = Counted("enrollment", [WIDGETS, flaky])
        read = await rebuild(pool, replay, source)
        lean_pages[kind] = replay.lean_pages
        outcomes[kind] = (
            read,
            await pool.fetch("SELECT id, name, size, version FROM widgets ORDER BY id"),
            await pool.fetch("SELECT stream_id, version, type FROM dead_letters WHERE projection = $1", replay.name),
            await pool.fetchrow("SELECT last_position, applied FROM projection_state WHERE projection = $1",
                                replay.name),
        )
    assert lean_pages["lean"] > 0 and lean_pages["full"] == 0, lean_pages
    assert outcomes["lean"] == outcomes["full"]
    read, widgets, dead, _state = outcomes["lean"]
    assert read == await pool.fetchval("SELECT count(*) FROM events")
    assert [d["type"] for d in dead] == ["WidgetMade"] and "lean7" not in {w["name"] for w in widgets}


async def test_locks_named_up_front_are_taken_first_and_the_next_holder_reads_after_the_last(client, pool):
    made = await client.post("/v1/widgets", json={"name": "stamped", "size": 1})
    assert made.status_code == 201
    wid = made.json()["id"]
    HOLD["first"] = asyncio.Event()
    first = asyncio.create_task(client.post(f"/v1/widgets/{wid}/stamp", json={"name": "first"}))
    # The first command holds the lock inside its handler; the second waits in its first statement.
    await eventually(lambda: _advisory_lock_held(pool), message="the first command's lock")
    second = asyncio.create_task(client.post(f"/v1/widgets/{wid}/stamp", json={"name": "second"}))
    await eventually(lambda: _waiting_on_lock(pool), message="the second command waiting on it")
    assert not second.done()
    HOLD["first"].set()
    a, b = await first, await second
    assert (a.status_code, b.status_code) == (200, 200)
    # The second read the stream after the first committed: no 409, each saw the version before it.
    assert (a.json()["seen"], b.json()["seen"]) == (1, 2)


async def _advisory_lock_held(pool) -> bool:
    return await pool.fetchval("SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory'"
                               " AND mode = 'ExclusiveLock' AND granted")


async def test_a_command_plans_generically_for_its_own_transaction_only(pool):
    """A command's first message (BEGIN and tt_open_command, migrations 0013 and 0014) makes its
    statements use generic plans — the combined writes were otherwise planned anew on every call —
    and only for its transaction: the pooled connection's next read is planned as PostgreSQL
    chooses again."""
    async with pool.acquire() as conn:
        before = await conn.fetchval("SELECT current_setting('plan_cache_mode')")
        await open_command(conn, "tester", None, ["widget-lock"])
        assert conn.is_in_transaction()
        assert await conn.fetchval("SELECT current_setting('plan_cache_mode')") == "force_generic_plan"
        await conn.execute("COMMIT")
        assert await conn.fetchval("SELECT current_setting('plan_cache_mode')") == before == "auto"


async def test_a_command_looks_its_idempotency_key_up_by_the_index(client, db_url):
    """The first message's literals carry the database's collation: compared in another ("C",
    what convert_from hands on), the key's look-up was planned as a sequential scan of
    idempotency_keys, empty or not — ~1 ms a command at 100k keys. A fresh session: no plan of
    tt_open_command is cached in it yet."""
    conn = await asyncpg.connect(db_url)
    try:
        await open_command(conn, "tester", f"k-{uuid.uuid4()}", [])
        scans = await conn.fetchrow("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables"
                                    " WHERE relname = 'idempotency_keys'")
        await conn.execute("ROLLBACK")
    finally:
        await conn.close()
    assert (scans["seq_scan"], scans["idx_scan"]) == (0, 1)


async def test_a_command_reads_by_index_a_table_analysed_while_empty(client, db_url):
    """A command's generic plan, made while a table was analysed empty, still reads it by its index
    once it has filled (migration 0016). Otherwise the plan, kept by the connection until the
    table is analysed again, scans the table whole on every command as it fills: a new province's
    first minutes, or a restored database's after `vacuumdb --analyze`, until autovacuum's next
    analyse of each table; in the bench, attendance's whole closed-loop run."""
    conn = await asyncpg.connect(db_url)
    select = "SELECT body FROM plan_probe WHERE id = $1"
    # The session's scans not yet flushed to the shared statistics, earlier transactions' included.
    scans = "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'plan_probe'"
    try:
        await conn.execute("DROP TABLE IF EXISTS plan_probe; "
                           "CREATE TABLE plan_probe (id text PRIMARY KEY, body text NOT NULL); ANALYZE plan_probe")
        await open_command(conn, "tester", f"k-{uuid.uuid4()}", [])
        assert await conn.fetchval(select, "p-1") is None  # the plan is made here, on the empty table
        await conn.execute("ROLLBACK")
        await conn.execute("INSERT INTO plan_probe SELECT 'p-' || i, 'x' FROM generate_series(1, 5000) i")
        await open_command(conn, "tester", f"k-{uuid.uuid4()}", [])
        before = await conn.fetchrow(scans)
        for i in (1, 2, 3):
            assert await conn.fetchval(select, f"p-{i}") == "x"
        after = await conn.fetchrow(scans)
        await conn.execute("ROLLBACK")
        await conn.execute("DROP TABLE plan_probe")
    finally:
        await conn.close()
    assert (after["seq_scan"] - before["seq_scan"], after["idx_scan"] - before["idx_scan"]) == (0, 3)


async def test_a_replay_whose_record_was_pruned_meanwhile_runs_as_new(pool):
    """tt_open_command saw the key's record (TT409) and rolled back; if pruning took the record
    before the replay read it, the command is as if never run: _Pruned (run() retries it), not a
    500 on a missing row."""
    ctx = CommandContext(None, Principal(sub="tester", role="county_admin", org="610102"))  # type: ignore[arg-type]
    async with pool.acquire() as conn:
        with pytest.raises(_Pruned):
            await ctx._replay(conn, f"gone-{uuid.uuid4()}", b"hash")


# Whatever would end or escape an SQL literal: a command's first message spells the principal,
# the key and the locks as literals (shared/unit_of_work.py open_command). A header is ASCII
# (a key of other text is a 400 before this); a lock's name or a token's subject need not be.
AWKWARD = "k'); SELECT pg_sleep(30); -- \\' \" $$ E'\\x00'"


async def test_keys_and_locks_of_any_text_reach_the_first_message_intact(client, pool):
    made = await client.post("/v1/widgets", json={"name": "awkward", "size": 1})
    wid = made.json()["id"]
    headers = {"Idempotency-Key": f"{AWKWARD} {uuid.uuid4()}"}
    first = await client.post(f"/v1/widgets/{wid}/stamp", json={"name": AWKWARD}, headers=headers)
    again = await client.post(f"/v1/widgets/{wid}/stamp", json={"name": AWKWARD}, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    # The record is stored under the key as sent, character for character.
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1",
                               headers["Idempotency-Key"]) == 1
    async with pool.acquire() as conn:  # the lock taken is the one named, not a mangled name
        await open_command(conn, f"教师{AWKWARD}", None, [f"报到{AWKWARD}"])
        held = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                                   " AND pid = pg_backend_pid() AND objid = (hashtextextended($1, 31) & 4294967295)",
                                   f"报到{AWKWARD}")
        await conn.execute("ROLLBACK")
    assert held == 1


async def test_a_guards_hot_row_is_locked_only_in_the_commits_own_message(client, pool, monkeypatch):
    """at_commit (shared/inline.py): a command that has sent its write and not yet its COMMIT holds
    no lock on the hot row, so another writer of it is not held back (before, nominations of one
    region queued on their quota row across that gap). COMMIT's message then writes it once, and a
    rebuild, where it runs at once, leaves the same row."""
    name = f"hot-{uuid.uuid4().hex[:8]}"
    first = await client.post(f"/v1/widgets/{uuid.uuid4()}/count", json={"name": name})
    assert first.status_code == 200
    written, release = asyncio.Event(), asyncio.Event()
    commit = UnitOfWork._commit

    async def paused(self, *args, **kwargs):
        await commit(self, *args, **kwargs)  # the events and the handlers' writes are sent
        written.set()
        await release.wait()  # … and COMMIT's message not yet

    monkeypatch.setattr(UnitOfWork, "_commit", paused)
    counting = asyncio.create_task(client.post(f"/v1/widgets/{uuid.uuid4()}/count", json={"name": name}))
    await asyncio.wait_for(written.wait(), 10)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '2s'")  # the row's lock, if held, fails this
            await conn.execute("UPDATE widget_tally SET n = n WHERE k = $1", name)
    finally:
        release.set()
    assert (await counting).status_code == 200
    assert await pool.fetchval("SELECT n FROM widget_tally WHERE k = $1", name) == 2
    live = await pool.fetch("SELECT k, n FROM widget_tally ORDER BY k")
    await rebuild(pool, InlineReplay("enrollment", [TALLY]), store_source(pool, client.app.state.store, limit=5))
    assert await pool.fetch("SELECT k, n FROM widget_tally ORDER BY k") == live


async def test_a_backstop_a_commit_time_write_fires_runs_the_command_again_and_writes_nothing(client, pool):
    """The CHECK fires in COMMIT's own message: the command's transaction ends there with nothing of
    it written, it runs again on the facts as they stand (a race, as in the write), and after
    MAX_ATTEMPTS it is 409. The connection goes back to the pool fit for the next command."""
    name = f"full-{uuid.uuid4().hex[:8]}"
    await pool.execute("INSERT INTO widget_tally (k, n) VALUES ($1, 3)", name)
    before = await _events(pool)
    refused = await client.post(f"/v1/widgets/{uuid.uuid4()}/count", json={"name": name},
                                headers={"Idempotency-Key": f"k-{name}"})
    assert refused.status_code == 409 and refused.json()["code"] == "concurrency_conflict"
    assert RUNS[name] == MAX_ATTEMPTS
    assert await _events(pool) == before
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", f"k-{name}") == 0
    assert await pool.fetchval("SELECT n FROM widget_tally WHERE k = $1", name) == 3
    for _ in range(3):  # every connection of the pool took part: each runs the next command
        assert (await client.post("/v1/widgets", json={"name": "after", "size": 1})).status_code == 201


async def _prepared_uses(pool, sql_start: str) -> int:
    """How often the pool's sessions ran a prepared statement whose text starts with `sql_start`."""
    conns = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        return sum([await c.fetchval("SELECT coalesce(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements"
                                     " WHERE statement LIKE 'PREPARE tt_% AS ' || $1 || '%'", sql_start)
                    for c in conns])
    finally:
        for c in conns:
            await pool.release(c)


async def test_a_commands_first_message_and_its_commit_time_write_run_prepared_statements(client):
    """A simple-protocol message is planned on every call (tt_open_command 14 µs, a quota row's
    update 53 µs under make bench-profile); both run a statement prepared once per connection."""
    pool = client.app.state.pool
    name = f"prep-{uuid.uuid4().hex[:8]}"
    opened = await _prepared_uses(pool, "SELECT tt_open_command(")
    counted = await _prepared_uses(pool, "INSERT INTO widget_tally")
    for _ in range(3):
        assert (await client.post(f"/v1/widgets/{uuid.uuid4()}/count", json={"name": name})).status_code == 200
    assert await _prepared_uses(pool, "SELECT tt_open_command(") == opened + 3
    assert await _prepared_uses(pool, "INSERT INTO widget_tally") == counted + 3


@pytest.mark.parametrize("lost", ["all", "the commit-time write's"])
async def test_a_session_that_lost_its_prepared_statements_prepares_them_again(client, lost):
    """DEALLOCATE (an operator, a pooler) leaves the connections believing they hold statements the
    server forgot: the EXECUTE fails — in the first message, or in COMMIT's own when only the
    commit-time write's statement went — the connection forgets, and the command runs again."""
    pool = client.app.state.pool
    name = f"lost-{uuid.uuid4().hex[:8]}"
    assert (await client.post(f"/v1/widgets/{uuid.uuid4()}/count", json={"name": name})).status_code == 200
    counted = _commit_statement(COUNTED)
    conns = [await pool.acquire() for _ in range(pool.get_size())]
    for c in conns:  # every connection holds both statements, then loses them
        await open_command(c, "tester", None, [])
        await counted.ready(c)
        await c.execute("ROLLBACK; " + ("DEALLOCATE ALL" if lost == "all" else f"DEALLOCATE {counted.name}"))
        assert counted.name in c.prepared_names  # … and still believes it holds them
    for c in conns:
        await pool.release(c)
    for _ in range(2):
        assert (await client.post(f"/v1/widgets/{uuid.uuid4()}/count", json={"name": name})).status_code == 200
    assert await pool.fetchval("SELECT n FROM widget_tally WHERE k = $1", name) == 3
