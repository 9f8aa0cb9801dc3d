"""Load an aggregate's state by folding its events (the decider's `evolve`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import asyncpg

from .eventstore import EventStore

S = TypeVar("S")


async def load_state(
    conn: asyncpg.Connection, store: EventStore, stream_id: str,
    evolve: Callable[[S, str, dict[str, Any]], S], initial: S,
) -> tuple[S, int]:
    """Returns (state, version); version 0 means the stream does not exist yet.

    `evolve(state, event_type, data)` is pure domain code; it never sees envelopes, so the
    domain package stays free of infrastructure types.
    """
    state, version = initial, 0
    for env in await store.load(conn, stream_id):
        state, version = evolve(state, env.type, env.data), env.stream_version
    return state, version
