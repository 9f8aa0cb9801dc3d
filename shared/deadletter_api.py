"""Dead letters over HTTP, in every service: what `ttadmin dead-letters` does on the database,
for operators who hold a token rather than a shell in the pod. For roles service and ops only.

    GET  /v1/dead-letters?state=pending|replayed|discarded|all&projection=…&limit=…
    GET  /v1/dead-letters/{id}                  the whole dead letter, event included
    POST /v1/dead-letters/replay {"stream_id": …, "projection": …}   a stream's, in version order
    POST /v1/dead-letters/{id}/replay           one (held back behind an earlier pending one)
    POST /v1/dead-letters/{id}/discard {"reason": …}   recorded with the token's role and subject

Replays report applied / already_applied / still_failing (shared/deadletters.py) with 200: the
replay ran, its outcome is the answer. A dead letter that is not pending is 409 not_pending.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from . import deadletters
from .auth import OPERATORS, Authenticated, Principal, require_role
from .inputs import Note, Text
from .problems import Problem
from .projection import Projection

_COLUMNS = ("id, projection, event_id, stream_id, version, type, error, deliveries, failures, recorded_at, "
            "replayed_at, replay_result, discarded_at, discarded_by, discard_reason")


class DeadLetterView(BaseModel):
    id: int
    projection: str
    event_id: str
    stream_id: str = Field(description="<source>:<stream id>, as checkpoints name it")
    version: int
    type: str
    error: str
    deliveries: int = Field(description="NATS deliveries when it was parked")
    failures: int = Field(description="failures of the handler when it was parked")
    recorded_at: datetime
    state: Literal["pending", "replayed", "discarded"]
    replayed_at: datetime | None
    replay_result: Literal["applied", "already_applied"] | None
    discarded_at: datetime | None
    discarded_by: str | None
    discard_reason: str | None
    envelope: dict[str, Any] | None = Field(None, description="the event (CloudEvents JSON); only on GET by id")


class DeadLettersView(BaseModel):
    dead_letters: list[DeadLetterView]


class ReplayView(BaseModel):
    id: int
    projection: str
    stream_id: str
    version: int
    outcome: Literal["applied", "already_applied", "still_failing"]
    detail: str


class ReplaysView(BaseModel):
    replayed: list[ReplayView]


class StreamReplay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stream_id: Text = Field(min_length=1, max_length=500)
    projection: Text | None = Field(None, min_length=1, max_length=200, description="default: every projection")


class Discard(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Note = Field(min_length=1, max_length=2000, description="why the event must never apply")


def _view(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    out["event_id"] = str(out["event_id"])
    out["state"] = ("replayed" if out["replayed_at"] is not None
                    else "discarded" if out["discarded_at"] is not None else "pending")
    return out


def _not_pending(detail: str) -> Problem:
    return Problem(409, "not_pending", "死信已处理 Dead letter already settled", detail)


def _not_found(dead_letter_id: int) -> Problem:
    return Problem(404, "dead_letter_not_found", "死信不存在 Dead letter not found", f"no dead letter {dead_letter_id}")


def dead_letter_router(projections: list[Projection]) -> APIRouter:
    router = APIRouter(tags=["operations"])
    by_name = {p.name: p for p in projections}

    def operator(principal: Principal) -> None:
        require_role(principal, *OPERATORS)

    def known(name: str) -> Projection:
        if name not in by_name:
            raise Problem(422, "unknown_projection", "未知投影 Unknown projection",
                          f"{name} is not a projection of this service")
        return by_name[name]

    @router.get("/v1/dead-letters", summary="Dead-lettered events, oldest first", response_model=DeadLettersView)
    async def list_dead_letters(
            request: Request, principal: Authenticated,
            state: Literal["pending", "replayed", "discarded", "all"] = "pending",
            projection: str | None = Query(None, max_length=200), limit: int = Query(100, ge=1, le=1000)) -> Any:
        operator(principal)
        where = {"pending": deadletters.PENDING, "replayed": "replayed_at IS NOT NULL",
                 "discarded": "discarded_at IS NOT NULL", "all": "true"}[state]
        rows = await request.app.state.pool.fetch(
            f"""SELECT {_COLUMNS} FROM dead_letters WHERE {where} AND ($1::text IS NULL OR projection = $1)
                ORDER BY id LIMIT $2""", projection, limit)
        return {"dead_letters": [_view(r) for r in rows]}

    @router.get("/v1/dead-letters/{dead_letter_id}", summary="One dead letter, with its event",
                response_model=DeadLetterView)
    async def get_dead_letter(dead_letter_id: int, request: Request, principal: Authenticated) -> Any:
        operator(principal)
        row = await request.app.state.pool.fetchrow(
            f"SELECT {_COLUMNS}, envelope FROM dead_letters WHERE id = $1", dead_letter_id)
        if row is None:
            raise _not_found(dead_letter_id)
        return _view(row)

    @router.post("/v1/dead-letters/replay", summary="Replay a stream's dead letters in version order",
                 response_model=ReplaysView)
    async def replay_stream(body: StreamReplay, request: Request, principal: Authenticated) -> Any:
        operator(principal)
        pool = request.app.state.pool
        if body.projection is not None:
            known(body.projection)
        out = []
        for name, _stream, _ids in await deadletters.pending_streams(pool, body.projection, body.stream_id):
            out += [r.as_dict() for r in await deadletters.replay_stream(pool, known(name), body.stream_id)]
        return {"replayed": out}

    @router.post("/v1/dead-letters/{dead_letter_id}/replay", summary="Replay one dead letter",
                 response_model=ReplayView)
    async def replay_one(dead_letter_id: int, request: Request, principal: Authenticated) -> Any:
        operator(principal)
        pool = request.app.state.pool
        name = await pool.fetchval("SELECT projection FROM dead_letters WHERE id = $1", dead_letter_id)
        if name is None:
            raise _not_found(dead_letter_id)
        try:
            return (await deadletters.replay(pool, known(name), dead_letter_id)).as_dict()
        except deadletters.NotPending as exc:
            raise _not_pending(str(exc)) from None

    @router.post("/v1/dead-letters/{dead_letter_id}/discard", summary="Discard a dead letter, saying why",
                 response_model=DeadLetterView)
    async def discard(dead_letter_id: int, body: Discard, request: Request, principal: Authenticated) -> Any:
        operator(principal)
        if not body.reason.strip():
            raise Problem(422, "reason_required", "须说明理由 Reason required", "the reason is blank")
        pool = request.app.state.pool
        if await pool.fetchval("SELECT id FROM dead_letters WHERE id = $1", dead_letter_id) is None:
            raise _not_found(dead_letter_id)
        try:  # the operator is the token's principal: the record says who, as an event's actor does
            await deadletters.discard(pool, dead_letter_id, body.reason, f"{principal.role}:{principal.sub}")
        except deadletters.NotPending as exc:
            raise _not_pending(str(exc)) from None
        row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM dead_letters WHERE id = $1", dead_letter_id)
        return _view(row)

    return router
