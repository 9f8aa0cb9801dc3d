"""`GET /v1/events?after=&limit=`: a service's events in the store's order, for rebuilds and for
systems that follow us without NATS. Never skips a late commit (the commit horizon,
shared/eventstore.py); `next` is an opaque cursor to pass back as `after`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from .auth import Authenticated, require_role
from .envelope import Envelope
from .eventstore import START, Cursor, DataPage, EventStore
from .problems import Problem

# System-to-system only: the feed is every event of the service, whatever org it concerns, so no
# org-scoped role (an admin or auditor of one subtree) may read it (tests/security/test_authz_matrix.py).
FEED_ROLES = ("service",)


class FeedPage(BaseModel):
    """A page of the feed: structured-mode CloudEvents (docs/events.md), oldest first."""

    events: list[dict[str, Any]] = Field(description="CloudEvents 1.0 envelopes (docs/events.md)")
    next: str = Field(description="the opaque cursor to pass back as `after`")


def feed_router() -> APIRouter:
    router = APIRouter(tags=["events"])

    @router.get("/v1/events", summary="Events after a cursor (CloudEvents JSON)",
                responses={200: {"model": FeedPage, "description": "a page of events in commit order"}})
    async def events(
        request: Request,
        principal: Authenticated,
        after: Annotated[str | None, Query(max_length=64, description=(
            "`next` of the previous page, passed back as given (opaque); none: from the first event. "
            "A plain event position is still read as the cursor at that event."))] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    ) -> Response:
        require_role(principal, *FEED_ROLES)
        store: EventStore = request.app.state.store
        async with request.app.state.pool.acquire() as conn:
            page = await store.read_after(conn, _cursor(after), limit)
        # Hand-assembled so that 5,000 events serialise once, by orjson, not via pydantic.
        body = b'{"events":[' + b",".join(e.to_json() for e in page.events) + b'],"next":"' + \
            page.next.encode().encode() + b'"}'
        return Response(body, media_type="application/json")

    return router


def _cursor(after: str | None) -> Cursor | int:
    """A token we issued, or a plain position (what clients held before cursors were opaque)."""
    if after is None:
        return START
    if after.isascii() and after.isdigit() and int(after) < 2**63:
        return int(after)
    try:
        return Cursor.decode(after)
    except ValueError:
        raise Problem(422, "validation_error", "数据校验失败 Validation failed", "`after` is not a cursor of this feed",
                      errors=[{"loc": ["query", "after"], "msg": "pass `next` back as given", "type": "cursor"}]
                      ) from None


async def feed_source(
    base_url: str, token: str, after: str | int = 0, limit: int = 1000, client: httpx.AsyncClient | None = None,
) -> AsyncIterator[list[Envelope]]:
    """Follow another service's feed from `after` until its head (for a projection rebuild)."""
    own = client is None
    client = client or httpx.AsyncClient(base_url=base_url, timeout=30.0)
    try:
        while True:
            resp = await client.get(
                "/v1/events", params={"after": after, "limit": limit}, headers={"Authorization": f"Bearer {token}"}
            )
            resp.raise_for_status()
            doc = resp.json()
            if not doc["events"]:
                return
            yield [Envelope.from_cloudevent(e) for e in doc["events"]]
            after = doc["next"]
    finally:
        if own:
            await client.aclose()


class StoreSource:
    """A service's own events straight from its store (rebuilding its own read models): pages of
    envelopes when iterated; for an inline replay, which reads only what its handlers see, lean
    pages (`pages`, EventStore.read_data_after) — the kernel's `rebuild` asks the projection."""

    def __init__(self, pool: asyncpg.Pool, store: EventStore, after: Cursor | int = START, limit: int = 1000) -> None:
        self.pool, self.store, self.after, self.limit = pool, store, after, limit

    def __aiter__(self) -> AsyncIterator[list[Envelope]]:
        return self._envelopes()

    async def _envelopes(self) -> AsyncIterator[list[Envelope]]:
        after = self.after
        while True:
            async with self.pool.acquire() as conn:
                page = await self.store.read_after(conn, after, self.limit)
            if not page.events:
                return
            yield page.events
            after = page.next

    async def pages(self) -> AsyncIterator[DataPage]:
        after = self.after
        while True:
            async with self.pool.acquire() as conn:
                if not isinstance(after, Cursor):
                    after = await self.store.cursor_at(conn, after)
                page = await self.store.read_data_after(conn, after, self.limit)
            if not page.events:
                return
            yield page
            after = page.next

    async def envelopes(self, page: DataPage) -> list[Envelope]:
        """The events of a lean page, in full."""
        async with self.pool.acquire() as conn:
            return (await self.store.read_after(conn, page.start, len(page.events))).events


def store_source(pool: asyncpg.Pool, store: EventStore, after: Cursor | int = START, limit: int = 1000) -> StoreSource:
    return StoreSource(pool, store, after, limit)
