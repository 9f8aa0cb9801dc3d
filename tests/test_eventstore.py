"""Event store against real PostgreSQL: appends, optimistic concurrency, and tailing by
position without ever skipping a transaction that commits late."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from shared.envelope import EventRegistry, Metadata, NewEvent
from shared.eventstore import NO_STREAM, ConcurrencyError, EventStore
from tests.tally import counted

store = EventStore("enrollment")


async def append(pool: asyncpg.Pool, stream: str, expected: int, *events: NewEvent):
    async with pool.acquire() as conn, conn.transaction():
        return await store.append(conn, stream, expected, list(events), Metadata(actor={"sub": "t"}))


async def test_append_then_load_keeps_order_versions_and_metadata(pool):
    stream = f"project-{uuid.uuid4()}"
    first = await append(pool, stream, NO_STREAM, counted(1), counted(2))
    await append(pool, stream, 2, counted(3))
    async with pool.acquire() as conn:
        loaded = await store.load(conn, stream)
    assert [e.stream_version for e in loaded] == [1, 2, 3]
    assert [e.data["n"] for e in loaded] == [1, 2, 3]
    assert loaded[0].id == first[0].id and loaded[0].actor == {"sub": "t"}
    assert loaded[0].position < loaded[1].position < loaded[2].position
    assert loaded[0].to_cloudevent()["specversion"] == "1.0"


async def test_wrong_expected_version_raises_and_writes_nothing(pool):
    stream = f"project-{uuid.uuid4()}"
    await append(pool, stream, NO_STREAM, counted(1))
    for wrong in (0, 2, 5):
        with pytest.raises(ConcurrencyError):
            await append(pool, stream, wrong, counted(9))
    async with pool.acquire() as conn:
        assert [e.stream_version for e in await store.load(conn, stream)] == [1]
        assert await conn.fetchval(
            "SELECT count(*) FROM outbox o JOIN events e USING (position) WHERE e.stream_id = $1", stream) == 1


async def test_append_outside_a_transaction_is_refused(pool):
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            await store.append(conn, "project-x", NO_STREAM, [counted(1)])


async def test_twenty_concurrent_appends_at_one_version_exactly_one_wins(pool):
    stream = f"project-{uuid.uuid4()}"
    await append(pool, stream, NO_STREAM, counted(0))
    results = await asyncio.gather(*(append(pool, stream, 1, counted(i)) for i in range(20)),
                                   return_exceptions=True)
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1
    assert len(losses) == 19 and all(isinstance(e, ConcurrencyError) for e in losses)
    async with pool.acquire() as conn:
        versions = [e.stream_version for e in await store.load(conn, stream)]
    assert versions == [1, 2]


async def test_a_late_commit_is_never_skipped_by_a_reader_tailing_positions(pool):
    """T1 draws a position and stays open while five later appends are attempted. A reader
    tails by position the whole time; after T1 commits, it has seen every event exactly once
    and in position order."""
    async with pool.acquire() as conn:
        start = await store.head(conn)
    seen: list[int] = []
    done = asyncio.Event()

    async def tail() -> None:
        after = start
        while True:
            finished = done.is_set()  # read before the page: a last pass after the writers end
            async with pool.acquire() as conn:
                page = await store.read_after(conn, after, 100)
            seen.extend(e.position for e in page.events)
            after = page.next
            if finished and not page.events:
                return
            await asyncio.sleep(0.01)

    reader = asyncio.create_task(tail())
    held = await pool.acquire()
    tx = held.transaction()
    await tx.start()
    early = await store.append(held, f"project-{uuid.uuid4()}", NO_STREAM, [counted(1)])
    later = [asyncio.create_task(append(pool, f"project-{uuid.uuid4()}", NO_STREAM, counted(2)))
             for _ in range(5)]
    await asyncio.sleep(0.3)  # give the later appends every chance to overtake T1
    assert not seen, "nothing may become visible while an earlier position is uncommitted"
    await tx.commit()
    await pool.release(held)
    await asyncio.gather(*later)
    done.set()
    await asyncio.wait_for(reader, 10)
    expected = [early[0].position] + sorted(t.result()[0].position for t in later)
    assert seen == sorted(seen) == expected


@pytest.mark.parametrize("path", ["append", "append_many"])
async def test_appends_do_not_wait_for_each_others_commit(pool, path):
    """No lock serialises the appends of a service any more (the commit horizon orders readers):
    while one append's transaction stays open, another one, on either path, commits at once."""
    async with pool.acquire() as held, held.transaction():
        await store.append(held, f"open-{uuid.uuid4()}", NO_STREAM, [NewEvent("Happened", {})])
        stream = f"other-{uuid.uuid4()}"
        async with asyncio.timeout(5), pool.acquire() as conn, conn.transaction():
            if path == "append":
                await store.append(conn, stream, NO_STREAM, [NewEvent("Happened", {})])
            else:
                await store.append_many(conn, [(stream, NO_STREAM, [NewEvent("Happened", {})], None)])
        assert await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", stream) == 1


async def test_feed_page_limits_and_next_cursor(pool):
    async with pool.acquire() as conn:
        start = await store.head(conn)
    await append(pool, f"project-{uuid.uuid4()}", NO_STREAM, *(counted(i) for i in range(7)))
    async with pool.acquire() as conn:
        p1 = await store.read_after(conn, start, 4)
        p2 = await store.read_after(conn, p1.next, 4)
        p3 = await store.read_after(conn, p2.next, 4)
    assert [len(p1.events), len(p2.events), len(p3.events)] == [4, 3, 0]
    # The cursor stands on the last event read (opaque to clients since 2026-12: the store's order
    # is (transaction, position)); an empty page leaves it where it was.
    assert p3.next == p2.next and p2.next.position == p2.events[-1].position


def test_upcasters_turn_old_schema_versions_into_the_current_one():
    reg = EventRegistry()
    reg.register("TeacherNominated", 3)

    @reg.upcaster("TeacherNominated", 1)
    def v1_to_v2(data):
        out = {k: v for k, v in data.items() if k != "region"}
        return {**out, "region_code": data["region"]}

    @reg.upcaster("TeacherNominated", 2)
    def v2_to_v3(data):
        return {**data, "source": "legacy"}

    from shared.envelope import Envelope, utcnow

    old = Envelope(id=uuid.uuid4(), source="/enrollment", type="TeacherNominated", subject="enrollment-1",
                   time=utcnow(), data={"region": "610102"}, schema_version=1)
    new = reg.upcast(old)
    assert new.schema_version == 3 and new.data == {"region_code": "610102", "source": "legacy"}
    assert reg.new("TeacherNominated", {}).schema_version == 3


@pytest.fixture(params=["insert", "copy"])
def many_path(request, monkeypatch):
    """append_many's two ways in: the INSERT from arrays, and COPY (a bulk import's size)."""
    import shared.eventstore

    monkeypatch.setattr(shared.eventstore, "COPY_AT", 10**9 if request.param == "insert" else 1)
    return request.param


async def test_append_many_checks_each_streams_expected_version_and_writes_all_or_nothing(pool, many_path):
    a, b, c = (f"many-{uuid.uuid4()}" for _ in range(3))
    async with pool.acquire() as conn, conn.transaction():
        await store.append(conn, a, NO_STREAM, [counted(1)])
    async with pool.acquire() as conn, conn.transaction():
        written = await store.append_many(conn, [(a, 1, [counted(2), counted(3)], None),
                                                 (b, NO_STREAM, [counted(4)], None)])
    assert written == 3
    with pytest.raises(ConcurrencyError):  # a is at 3 now: expecting 1 is stale, and c must not be written either
        async with pool.acquire() as conn, conn.transaction():
            await store.append_many(conn, [(c, NO_STREAM, [counted(5)], None), (a, 1, [counted(6)], None)])
    async with pool.acquire() as conn:
        loaded = await store.load_many(conn, [a, b, c])
    assert [e.stream_version for e in loaded[a]] == [1, 2, 3] and [e.data["n"] for e in loaded[a]] == [1, 2, 3]
    assert [e.data["n"] for e in loaded[b]] == [4] and loaded[c] == []
    assert await pool.fetchval(
        "SELECT count(*) FROM outbox JOIN events USING (position) WHERE stream_id = ANY($1)", [a, b, c]) == 4


async def test_append_many_draws_positions_in_the_order_given_and_keeps_data_metadata_and_answer(pool, many_path):
    from shared.eventstore import Remembered

    streams = [(f"bulk-{uuid.uuid4()}", NO_STREAM, [counted(i), counted(i + 1000)], Metadata(actor={"sub": str(i)}))
               for i in range(300)]
    answer = Remembered("tester", f"key-{uuid.uuid4()}", b"hash", 201, b'{"imported": 300}', {})
    async with pool.acquire() as conn, conn.transaction():
        assert await store.append_many(conn, streams, answer) == 600
    async with pool.acquire() as conn:
        loaded = await store.load_many(conn, [sid for sid, _, _, _ in streams])
        kept = await conn.fetchrow("SELECT status, body FROM idempotency_keys WHERE key = $1", answer.key)
    flat = [e for sid, _, _, _ in streams for e in loaded[sid]]
    assert [e.data["n"] for e in flat] == [n for i in range(300) for n in (i, i + 1000)]
    assert [e.stream_version for e in flat] == [1, 2] * 300
    assert [e.position for e in flat] == sorted(e.position for e in flat)  # drawn in the order given
    assert [e.actor for e in flat[::2]] == [{"sub": str(i)} for i in range(300)]
    assert kept is not None and kept["status"] == 201


def test_new_events_made_many_at_once_pass_the_same_personal_data_gate():
    from shared.envelope import uuid4s
    from shared.personal import PersonalDataError

    ids = uuid4s(3)
    assert len(set(ids)) == 3 and all(i.version == 4 for i in ids)
    decided = [("TeacherRegistered", {"teacher_id": str(i), "subject": "数学"}, 1) for i in ids]
    many = NewEvent.many(decided, ids)
    assert many == [NewEvent(t, d, v, i) for (t, d, v), i in zip(decided, ids, strict=True)]
    planted = [*decided[:2], ("TeacherRegistered", {"subject": "数学", "title": "11010519491231002X"}, 1)]
    with pytest.raises(PersonalDataError) as caught:
        NewEvent.many(planted, ids)
    assert caught.value.paths == ["title"]
    # A number split over two events' data is no number (the gate sees each event's data alone).
    split = [("A", {"x": "110105194912"}, 1), ("A", {"x": "31002X"}, 1)]
    assert [e.data for e in NewEvent.many(split, ids[:2])] == [d for _, d, _ in split]


def test_the_digit_run_pre_check_finds_every_number_the_pattern_does():
    """has_national_id looks for 17 digits in a row before it runs the pattern: the same answer."""
    from shared.personal import NATIONAL_ID, _folded, has_national_id

    number = "11010519491231002X"
    texts = [number, number.lower(), number[:-1] + "9", "１１０１０５１９４９１２３１００２Ｘ", f"a{number}b",
             f"1{number}", f"{number}1", number[:17], "0" * 17, "0" * 18, "0" * 19, f"身份证{number}号",
             "\ud800" + number, "12345678-1234-1234-1234-123456789012", '{"d": "2027-03-03", "h": 6.0}', "",
             "㉑" * 9, "²" * 18]
    for text in texts:
        assert has_national_id(text) == (NATIONAL_ID.search(_folded(text)) is not None), text
    assert has_national_id(number) and has_national_id("１１０１０５１９４９１２３１００２Ｘ")
    assert not has_national_id(number[:17]) and not has_national_id("0" * 19)


async def test_append_and_commit_is_one_statement_committed_when_it_returns(pool):
    """An append that is its own transaction: one statement and no BEGIN or COMMIT, the events
    visible to every other connection once it returns, the relay woken then, and a stale
    expectation written nowhere. Inside a transaction it refuses (it could not commit by itself)."""
    stream = f"project-{uuid.uuid4()}"
    woken: list[int] = []
    unregister = store.on_commit(lambda: woken.append(1))
    sent: list[str] = []

    def log(query) -> None:
        sent.append(query.query)

    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(log)
            try:
                first = await store.append_and_commit(conn, stream, NO_STREAM, [counted(1), counted(2)],
                                                      Metadata(actor={"sub": "t"}))
                assert not conn.is_in_transaction() and woken == [1]
                async with pool.acquire() as other:  # committed: another session reads it
                    assert [e.stream_version for e in await store.load(other, stream)] == [1, 2]
                for wrong in (0, 1, 5):
                    with pytest.raises(ConcurrencyError):
                        await store.append_and_commit(conn, stream, wrong, [counted(9)])
                assert woken == [1]  # nothing committed, nothing to publish
                sent.clear()  # the first use of a statement on a connection also looks up its types
                again = await store.append_and_commit(conn, stream, 2, [counted(3)])
                assert len(sent) == 1 and woken == [1, 1]
                async with conn.transaction():
                    with pytest.raises(RuntimeError):
                        await store.append_and_commit(conn, stream, 3, [counted(4)])
            finally:
                conn.remove_query_logger(log)
    finally:
        unregister()
    async with pool.acquire() as conn:
        loaded = await store.load(conn, stream)
    assert [e.data["n"] for e in loaded] == [1, 2, 3] and loaded[0].actor == {"sub": "t"}
    assert [e.id for e in loaded] == [first[0].id, first[1].id, again[0].id]
    assert [e.position for e in loaded] == [e.position for e in [*first, *again]]


async def test_append_and_commit_at_one_version_concurrently_exactly_one_wins(pool):
    stream = f"project-{uuid.uuid4()}"
    await append(pool, stream, NO_STREAM, counted(0))

    async def alone(i: int):
        async with pool.acquire() as conn:
            return await store.append_and_commit(conn, stream, 1, [counted(i), counted(i + 100)])

    results = await asyncio.gather(*(alone(i) for i in range(20)), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, ConcurrencyError) for r in results if isinstance(r, BaseException))
    async with pool.acquire() as conn:
        assert [e.stream_version for e in await store.load(conn, stream)] == [1, 2, 3]


async def test_a_late_commit_is_never_skipped_when_later_appends_commit_on_their_own(pool):
    """The late-commit guarantee for appends in PostgreSQL's implicit transaction: T1 draws a
    position and stays open while later appends commit by themselves; a reader tailing the store
    sees nothing until T1 commits, then every event once, T1's first."""
    async with pool.acquire() as conn:
        start = await store.head(conn)
    held = await pool.acquire()
    tx = held.transaction()
    await tx.start()
    early = await store.append(held, f"project-{uuid.uuid4()}", NO_STREAM, [counted(1)])

    async def alone() -> int:
        async with pool.acquire() as conn:
            return (await store.append_and_commit(conn, f"project-{uuid.uuid4()}", NO_STREAM, [counted(2)]))[0].position

    later = sorted(await asyncio.gather(*(alone() for _ in range(5))))
    assert all(p > early[0].position for p in later)
    async with pool.acquire() as conn:
        assert (await store.read_after(conn, start, 100)).events == []  # behind the horizon
    await tx.commit()
    await pool.release(held)
    async with pool.acquire() as conn:
        seen = [e.position for e in (await store.read_after(conn, start, 100)).events]
    assert seen == [early[0].position, *later]
