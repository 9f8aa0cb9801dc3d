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
        self.recorded: list[Envelope] = []

    async def append(self, stream_id: str, expected_version: int, events: Sequence[NewEvent]) -> list[Envelope]:
        envs = await self.store.append(self.conn, stream_id, expected_version, events, self.metadata)
        self.recorded.extend(envs)
        return envs

    async def respond(self, status: int, content: Any, headers: dict[str, str] | None = None) -> Response:
        body = orjson.dumps(content)
        headers = dict(headers or {})
        if self._key is not None:
            await self.conn.execute(
                """INSERT INTO idempotency_keys (principal, key, request_hash, status, body, headers)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                self.principal.sub, self._key, self._hash, status, body, headers,
            )
        return Response(body, status_code=status, headers=headers, media_type="application/json")


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
        async with self.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, self.store, self.metadata(), self.principal, key, request_hash)
            if key is not None:
                # Serialise attempts with the same key; the loser sees the winner's record.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 11))",
                                   f"{self.principal.sub}\n{key}")  # keys are printable: no \n inside
                row = await conn.fetchrow(
                    "SELECT request_hash, status, body, headers FROM idempotency_keys"
                    " WHERE principal = $1 AND key = $2", self.principal.sub, key,
                )
                if row is not None:
                    if bytes(row["request_hash"]) != request_hash:
                        raise Problem(422, "idempotency_key_reused", "幂等键已用于其他请求 Idempotency-Key reused",
                                      "This Idempotency-Key was used with a different request.")
                    headers = dict(row["headers"] or {})
                    headers[_REPLAYED_HEADER] = "true"
                    tx.replay = Response(bytes(row["body"]), status_code=row["status"], headers=headers,
                                         media_type="application/json")
            yield tx


async def command_context(request: Request, principal: Annotated[Principal, Depends(current_principal)]
                          ) -> CommandContext:
    return CommandContext(request, principal)


Command = Annotated[CommandContext, Depends(command_context)]
