"""The unit of work of a command, and the one way a route runs a command handler.

    @router.post("/v1/projects/{project_id}/nominations", status_code=201)
    async def nominate(project_id: UUID, body: NominationIn, cmd: Command, today: Today) -> Response:
        require_role(cmd.principal, *REGION_ADMINS)            # the route parses and authorizes
        return await cmd.run(lambda uow: nominate_handler.handle(uow, ..., today=today))

`CommandContext.run` opens one transaction and, in this order:
1. BEGIN and `tt_open_command` (shared/migrations/0014) in one message: the inline-rebuild lock,
   shared; with an Idempotency-Key, the key's lock and whether the key already ran. A replay
   rolls back and returns the first attempt's stored response, once for every command — the
   handler never sees it. Then the command's own locks that the route named up front
   (`run(..., locks=...)`), in the same round trip;
2. the handler: take its locks (`uow.lock`: free when already held) → load facts (one query) →
   pure `decide` → `uow.record(...)` → a `Reply`;
3. the append (shared/eventstore.py) with the idempotency record in the same statement, then the
   service's inline projections over the recorded events: read models, and its guards last, whose
   row locks hold back other commands of the same facts until COMMIT;
4. COMMIT, and the Reply as the HTTP response. A guard's write to a row every command of the same
   facts writes (`at_commit`, shared/inline.py: a region's places used) goes in COMMIT's own
   message, so the row is locked only while that message runs.
A guard's unique key or check constraint that fires means another command committed the same
fact between this one's facts query and its write: a race, not a refusal. The whole command then
runs again, in a new transaction, on the facts as they now stand — where the domain decides
(`quota_exhausted`, `national_limit`), not the constraint; after MAX_ATTEMPTS it is a 409.
Same key + same body → the same response and no second event holds across crashes and concurrent
retries: the record commits with the events, and a retry arriving meanwhile waits on the key.
A stream that moved on since it was read raises ConcurrencyError at the append. With If-Match the
client pinned the version: 412 at once. Without it the command runs again on the new facts, like
a guard's race, and is 409 `concurrency_conflict` only after MAX_ATTEMPTS. A domain `Refused`
becomes problem+json in the kernel (shared/problems.py).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Depends, Request
from fastapi.responses import Response

from . import telemetry
from .auth import Principal, current_principal
from .envelope import Envelope, EventRegistry, Metadata, NewEvent, uuid4s
from .eventstore import ConcurrencyError, EventStore, Remembered, remember
from .inline import InlineProjection, project_and_append
from .problems import Problem
from .sqltext import Prepared

MAX_KEY_LENGTH = 200
MAX_ATTEMPTS = 5
# A guard's backstop fired, or PostgreSQL broke a lock cycle: nothing was written; run it again.
RACES = (asyncpg.UniqueViolationError, asyncpg.CheckViolationError, asyncpg.ExclusionViolationError,
         asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
log = logging.getLogger(__name__)
_REPLAYED_HEADER = "Idempotent-Replayed"
# hashtextextended's seed for a command's own advisory locks; migration 0008 spells it too.
COMMAND_LOCK_SEED = 31
Decided = Sequence[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Reply:
    """What a handler answers: the HTTP status, a JSON-able body, extra headers (ETag, Location)."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


class UnitOfWork:
    """One command's transaction as a handler sees it: the connection to load facts on, and
    `record` to queue decided events. Nothing is written until the handler returns."""

    def __init__(self, conn: asyncpg.Connection, registry: EventRegistry, metadata: Metadata,
                 principal: Principal, if_match: int | None, held: Sequence[str] = ()) -> None:
        self.conn = conn
        self.registry = registry
        self.metadata = metadata
        self.principal = principal
        self._if_match = if_match
        self._held = set(held)
        self._streams: list[tuple[str, int, list[NewEvent], Metadata | None]] = []
        self.recorded: list[Envelope] = []  # filled at commit, for the rare caller that needs positions
        self.commit_writes: list[str] = []  # guards' at_commit statements (shared/inline.py), sent with COMMIT

    async def lock(self, name: str) -> None:
        """Hold the advisory lock `name` until the transaction ends, so the next statement's
        snapshot includes what its previous holder committed. Costs no round trip when the route
        named it up front (`CommandContext.run(..., locks=...)`) or a facts query took it
        (`held`): correctness never depends on the route remembering."""
        if name not in self._held:
            await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))", name, COMMAND_LOCK_SEED)
            self._held.add(name)

    def held(self, name: str) -> None:
        """Note that a statement of the handler's own took the lock `name` (see lock_sql)."""
        self._held.add(name)

    def expect(self, stream_id: str, version: int) -> int:
        """The version to append at, given the version just loaded: a client's If-Match naming
        another version is a 412 (ConcurrencyError) before anything is decided."""
        if self._if_match is not None and self._if_match != version:
            raise ConcurrencyError(stream_id, self._if_match, version)
        return version

    def record(self, stream_id: str, expected_version: int, events: Decided,
               event_ids: Sequence[uuid.UUID] | None = None) -> None:
        """Queue decided (type, data) events for `stream_id`, expected at `expected_version`."""
        if not events:
            return
        ids = list(event_ids) if event_ids is not None else [uuid.uuid4() for _ in events]
        new = [NewEvent(t, d, self.registry.version_for(t, d), eid) for (t, d), eid in zip(events, ids, strict=True)]
        self._streams.append((stream_id, expected_version, new, self.metadata))

    def record_many(self, streams: Sequence[tuple[str, int, Decided]]) -> None:
        """`record` for many streams at once (bulk imports): `(stream_id, expected_version, events)`
        each; the event ids are drawn and the events' data checked for personal data once for all."""
        flat = [(t, d, self.registry.version_for(t, d)) for _, _, evs in streams for t, d in evs]
        new = NewEvent.many(flat, uuid4s(len(flat)))
        i = 0
        for stream_id, expected_version, evs in streams:
            if evs:
                self._streams.append((stream_id, expected_version, new[i:i + len(evs)], self.metadata))
                i += len(evs)

    @property
    def pending(self) -> int:
        return sum(len(evs) for _, _, evs, _ in self._streams)

    async def _commit(self, projections: Sequence[InlineProjection], store: EventStore,
                      answer: Remembered | None) -> None:
        if self._streams:
            self.recorded = await project_and_append(self.conn, store, projections, self._streams, answer,
                                                     self.commit_writes)
            self._streams = []
        elif answer:
            await remember(self.conn, answer)


Handler = Callable[[UnitOfWork], Awaitable[Reply]]


class CommandContext:
    """What a route knows about the command it is about to run: who asks, and how to run it."""

    def __init__(self, request: Request, principal: Principal) -> None:
        self.request = request
        self.principal = principal

    def metadata(self) -> Metadata:
        return Metadata(
            correlation_id=self.request.headers.get("x-correlation-id") or str(uuid.uuid4()),
            actor=self.principal.actor(),
            traceparent=telemetry.current_traceparent(),
        )

    def if_match(self) -> int | None:
        """The aggregate version the client last saw (`If-Match: "3"`), if it sent one."""
        raw = self.request.headers.get("if-match")
        if raw is None:
            return None
        tag = raw.strip().removeprefix("W/").strip('"')
        if not tag.isdigit():
            raise Problem(400, "bad_if_match", "If-Match 无效 Invalid If-Match", "expected an ETag like \"3\"")
        return int(tag)

    async def _key_and_hash(self) -> tuple[str | None, bytes | None]:
        key = self.request.headers.get("idempotency-key")
        if key is None:
            return None, None
        if not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
            raise Problem(400, "bad_idempotency_key", "Idempotency-Key 无效 Invalid Idempotency-Key",
                          f"1–{MAX_KEY_LENGTH} printable characters")
        h = hashlib.sha256()
        for part in (self.request.method.encode(), self.request.url.path.encode(), b"?",
                     self.request.url.query.encode(), b"\n", await self.request.body()):
            h.update(part)
        return key, h.digest()

    async def run(self, handler: Handler, locks: Sequence[str] = ()) -> Response:
        """Run `handler` in one transaction, again on a race. `locks` are advisory locks the
        handler will take first (`uow.lock`), named by the route when it knows them before any
        fact is read: they are taken in the command's first statement, in the order given."""
        key, request_hash = await self._key_and_hash()
        if_match = self.if_match()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await self._attempt(handler, key, request_hash, if_match, locks)
            except ConcurrencyError:
                # With If-Match the client pinned the version it decided on: 412, never run again.
                # Without it, the client asked for the command on the facts as they stand, and a
                # command that committed meanwhile only moved them: decide again on the new facts,
                # as the client's own retry would (two attendance sheets of one project touch the
                # same enrollments; before, one of them came back 409 whole). Each attempt loses
                # only to a commit that happened during it, so up to MAX_ATTEMPTS concurrent
                # commands on one stream all get through; past that it is 409.
                if if_match is not None or attempt == MAX_ATTEMPTS:
                    raise
                log.info("command on %s found its stream moved on, running it again", self.request.url.path)
            except (*RACES, _Pruned, asyncpg.InvalidSQLStatementNameError) as exc:
                if attempt == MAX_ATTEMPTS:
                    raise
                log.info("command on %s raced (%s), running it again", self.request.url.path, type(exc).__name__)
        raise AssertionError("unreachable")

    async def _attempt(self, handler: Handler, key: str | None, request_hash: bytes | None,
                       if_match: int | None, locks: Sequence[str]) -> Response:
        state = self.request.app.state
        store: EventStore = state.store
        projections: Sequence[InlineProjection] = state.spec.inline
        async with state.pool.acquire() as conn:
            try:
                # BEGIN and tt_open_command in one message: one round trip fewer (migration 0014).
                await open_command(conn, self.principal.sub, key, locks)
            except asyncpg.PostgresError as exc:
                await _roll_back(conn)
                await _resync_prepared(conn, exc)
                if exc.sqlstate != _ALREADY_RUN:
                    raise
                return await self._replay(conn, key, request_hash)
            try:
                uow = UnitOfWork(conn, store.registry, self.metadata(), self.principal, if_match, locks)
                reply = await handler(uow)
                body = orjson.dumps(reply.body)
                headers = dict(reply.headers)
                answer = None
                if key is not None and request_hash is not None:
                    answer = Remembered(self.principal.sub, key, request_hash, reply.status, body, headers)
                await uow._commit(projections, store, answer)  # last: see the module docstring
                # Guards' writes to hot rows go in COMMIT's own message (shared/inline.py at_commit).
                await conn.execute("; ".join([*uow.commit_writes, "COMMIT"]))
            except BaseException as exc:
                await _roll_back(conn)
                await _resync_prepared(conn, exc)
                raise
        return Response(body, status_code=reply.status, headers=headers, media_type="application/json")

    async def _replay(self, conn: asyncpg.Connection, key: str | None, request_hash: bytes | None) -> Response:
        """The stored answer of the first attempt with this Idempotency-Key. It committed before
        tt_open_command saw it, and records are only ever pruned whole, so it is there to read."""
        row = await conn.fetchrow(_STORED, self.principal.sub, key)
        if row is None:  # pruned in between: as if never run, which the next attempt does
            raise _Pruned
        if bytes(row["request_hash"]) != request_hash:
            raise Problem(422, "idempotency_key_reused", "幂等键已用于其他请求 Idempotency-Key reused",
                          "This Idempotency-Key was used with a different request.")
        headers = dict(row["headers"] or {})
        headers[_REPLAYED_HEADER] = "true"
        return Response(bytes(row["body"]), status_code=row["status"], headers=headers,
                        media_type="application/json")


class _Pruned(Exception):
    """The record tt_open_command saw was pruned before the replay read it."""


_ALREADY_RUN = "TT409"  # tt_open_command: this Idempotency-Key's record exists
_STORED = "SELECT request_hash, status, body, headers FROM idempotency_keys WHERE principal = $1 AND key = $2"


# tt_open_command by name: a simple-protocol message is planned on every call, a prepared
# statement once per connection (shared/sqltext.py Prepared).
_OPEN_COMMAND = Prepared("SELECT tt_open_command($1, $2, $3)")


async def open_command(conn: asyncpg.Connection, principal: str, key: str | None, locks: Sequence[str]) -> None:
    """Open a command's transaction on `conn` in one message: BEGIN, the Idempotency-Key's claim,
    the locks named up front (TT409 when the key already ran), and the planner settings of the
    command's own statements (generic plans that read by index: migrations 0013 and 0016). A
    simple-protocol message has no parameters, so the arguments travel as literals (hex: nothing
    in them can end one)."""
    await _OPEN_COMMAND.ready(conn)
    await conn.execute("BEGIN; " + _OPEN_COMMAND.call([principal, key, list(locks) or None]))


async def _resync_prepared(conn: asyncpg.Connection, exc: BaseException) -> None:
    """A session that lost prepared statements (someone ran DEALLOCATE) answers EXECUTE with
    26000: after the rollback, the connection learns from the server what it still holds, and the
    command runs again (`run`), preparing what went."""
    held = getattr(conn, "prepared_names", None)
    if not isinstance(exc, asyncpg.InvalidSQLStatementNameError) or held is None:
        return
    held.clear()
    try:
        held.update(r[0] for r in await conn.fetch("SELECT name FROM pg_prepared_statements"))
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        log.warning("could not list the session's prepared statements; the pool discards it", exc_info=True)


async def _roll_back(conn: asyncpg.Connection) -> None:
    """End the command's transaction after a failure. A connection that broke is the pool's to
    discard on release; the failure that brought us here is the one worth raising."""
    if conn.is_closed() or not conn.is_in_transaction():
        return
    try:
        await conn.execute("ROLLBACK")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        log.warning("rollback after a failed command failed; the pool discards the connection", exc_info=True)


def lock_sql(name_sql: str) -> str:
    """SQL taking the command lock whose name the expression `name_sql` computes, for a facts
    query that learns the name as it reads (check-in: the enrollment's teacher). Only for locks
    that guard what the command writes, not what that same query reads: its snapshot was taken
    before the lock. The handler then calls `uow.held(name)`."""
    return f"pg_advisory_xact_lock(hashtextextended({name_sql}, {COMMAND_LOCK_SEED}))"


_PRUNE = """
DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) LIMIT $2))
"""


async def prune_idempotency_keys(pool: asyncpg.Pool, older_than_s: float, batch: int = 5000) -> int:
    """Delete idempotency records older than `older_than_s`, a batch per transaction so no
    long lock is held; returns how many went. A retry after that gets a fresh execution."""
    removed = 0
    while True:
        status = await pool.execute(_PRUNE, older_than_s, batch)
        n = int(status.split()[-1])
        removed += n
        if n < batch:
            return removed


async def command_context(request: Request) -> CommandContext:
    # current_principal called here, not declared as a sub-dependency: one level less of FastAPI's
    # dependency solving on every command (~5 µs, docs/benchmarks.md); no route takes both.
    return CommandContext(request, await current_principal(request))


Command = Annotated[CommandContext, Depends(command_context)]
