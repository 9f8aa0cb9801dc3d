"""The unit of work of a command: one connection, one transaction, the idempotency record,
and the metadata (actor, correlation, trace) stamped on every event it records.

Usage in a route:

    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        await tx.append(stream_id, expected_version, [event])
        return await tx.respond(201, {"id": ...})

The idempotency record is written in the same transaction as the events, so "same key, same
body → same response, no second event" holds across crashes and concurrent retries: a retry
that arrives while the first attempt is still running waits on the key's lock, then replays.

Appends through `cmd.store` are deferred to the end of the command. The event store's append
takes the commit-ordering lock, which every command of the service queues on until the holder
commits, so whatever runs between the append and COMMIT runs one command at a time. Routes call
`record(...)` / `cmd.store.append(...)` where the decision is made; inside `begin()` that only
queues the events, and `respond()` (or the end of the block) writes the idempotency record
first and appends last, so the lock is held for the append and the COMMIT only. A stream that
moved on still raises ConcurrencyError (→ 409/412), from `respond()`. `tx.append` appends at
once, for the rare route that needs versions or positions before it answers.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Depends, Request
from fastapi.responses import Response

from . import telemetry
from .auth import Principal, current_principal
from .envelope import Envelope, Metadata, NewEvent
from .eventstore import EventStore
from .problems import Problem
from .unit_of_work import prune_idempotency_keys  # noqa: F401  (transitional re-export)

MAX_KEY_LENGTH = 200
_REPLAYED_HEADER = "Idempotent-Replayed"


class Tx:
    def __init__(self, conn: asyncpg.Connection, store: EventStore, metadata: Metadata,
                 principal: Principal, key: str | None, request_hash: bytes | None) -> None:
        self.conn = conn
        self.store = store
        self.metadata = metadata
        self.principal = principal
        self.replay: Response | None = None
        self._key = key
        self._hash = request_hash
        self._pending: list[tuple[asyncpg.Connection, str, int, Sequence[NewEvent], Metadata | None]] = []
        self.recorded: list[Envelope] = []  # filled when the appends run (respond / end of block)

    async def append(self, stream_id: str, expected_version: int, events: Sequence[NewEvent]) -> list[Envelope]:
        """Append now, for a route that needs the envelopes (versions, positions) before it
        answers; the commit-ordering lock is then held from here to COMMIT."""
        await self.flush()  # keep the order the route recorded things in
        envs = await self.store.append(self.conn, stream_id, expected_version, events, self.metadata)
        self.recorded.extend(envs)
        return envs

    async def flush(self) -> list[Envelope]:
        """Run the queued appends now, in the order they were made."""
        pending, self._pending = self._pending, []
        for conn, stream_id, expected, events, metadata in pending:
            self.recorded.extend(await self.store.append(conn, stream_id, expected, events, metadata))
        return self.recorded

    async def respond(self, status: int, content: Any, headers: dict[str, str] | None = None) -> Response:
        body = orjson.dumps(content)
        headers = dict(headers or {})
        if self._key is not None:
            await self.conn.execute(
                """INSERT INTO idempotency_keys (principal, key, request_hash, status, body, headers)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                self.principal.sub, self._key, self._hash, status, body, headers,
            )
        await self.flush()  # last: see the module docstring
        return Response(body, status_code=status, headers=headers, media_type="application/json")


class _DeferringStore:
    """The event store as a route sees it inside `begin()`: appends queue on the Tx; everything
    else (load, read_after, registry, source …) is the real store's."""

    def __init__(self, store: EventStore, tx: Tx) -> None:
        self._store, self._tx = store, tx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def append(self, conn: asyncpg.Connection, stream_id: str, expected_version: int,
                     events: Sequence[NewEvent], metadata: Metadata | None = None) -> list[Envelope]:
        if events:
            self._tx._pending.append((conn, stream_id, expected_version, list(events), metadata))
        return []  # nothing is recorded yet; Tx.recorded has the envelopes after respond()


class CommandContext:
    def __init__(self, request: Request, principal: Principal) -> None:
        self.request = request
        self.principal = principal
        state = request.app.state
        self.pool: asyncpg.Pool = state.pool
        self.store: EventStore = state.store

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

    async def _request_hash(self) -> bytes:
        body = await self.request.body()
        h = hashlib.sha256()
        for part in (self.request.method.encode(), self.request.url.path.encode(), b"?",
                     self.request.url.query.encode(), b"\n", body):
            h.update(part)
        return h.digest()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Tx]:
        key = self.request.headers.get("idempotency-key")
        if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
            raise Problem(400, "bad_idempotency_key", "Idempotency-Key 无效 Invalid Idempotency-Key",
                          f"1–{MAX_KEY_LENGTH} printable characters")
        request_hash = await self._request_hash() if key is not None else None
        store = self.store
        async with self.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, store, self.metadata(), self.principal, key, request_hash)
            if key is not None:
                # Serialise attempts with the same key; the loser sees the winner's record.
                # Lock and look-up are one round trip (tt_idempotency_claim in
                # shared/migrations/0002_kernel_functions.sql); keys are printable, so the
                # newline it joins principal and key with cannot be forged.
                row = await conn.fetchrow("SELECT * FROM tt_idempotency_claim($1, $2)", self.principal.sub, key)
                if row is not None:
                    if bytes(row["request_hash"]) != request_hash:
                        raise Problem(422, "idempotency_key_reused", "幂等键已用于其他请求 Idempotency-Key reused",
                                      "This Idempotency-Key was used with a different request.")
                    headers = dict(row["headers"] or {})
                    headers[_REPLAYED_HEADER] = "true"
                    tx.replay = Response(bytes(row["body"]), status_code=row["status"], headers=headers,
                                         media_type="application/json")
            self.store = _DeferringStore(store, tx)  # type: ignore[assignment]
            try:
                yield tx
                await tx.flush()  # a block that appended but never called respond()
            finally:
                self.store = store


async def command_context(request: Request, principal: Annotated[Principal, Depends(current_principal)]
                          ) -> CommandContext:
    return CommandContext(request, principal)


Command = Annotated[CommandContext, Depends(command_context)]
