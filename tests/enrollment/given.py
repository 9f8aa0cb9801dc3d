"""Given-events seeding for enrollment API tests: the same path a command's events take (the
service's guards and read models, then the append), so query tables and the event store agree
exactly as in production."""

from __future__ import annotations

from typing import Any

from services.enrollment.events import registry
from services.enrollment.main import spec
from shared.envelope import Metadata
from shared.eventstore import EventStore
from shared.inline import new_events, project_and_append

store = EventStore("enrollment", registry)


async def given(pool, stream_id: str, *events: tuple[str, dict[str, Any]], expected_version: int = 0) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await project_and_append(conn, store, spec.inline, [(stream_id, expected_version,
                                                             new_events(registry, list(events)),
                                                             Metadata(actor={"sub": "test"}))])
