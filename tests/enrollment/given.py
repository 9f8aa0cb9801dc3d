"""Given-events seeding for enrollment API tests: the same `record` path the routes use,
so query tables and the event store agree exactly as in production."""

from __future__ import annotations

from typing import Any

from services.enrollment.projector import record
from shared.envelope import Metadata
from shared.eventstore import EventStore

store = EventStore("enrollment")


async def given(pool, stream_id: str, *events: tuple[str, dict[str, Any]], expected_version: int = 0) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await record(conn, store, stream_id, expected_version, list(events), Metadata(actor={"sub": "test"}))
