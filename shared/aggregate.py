"""Load an aggregate's state by folding its events (the decider's `evolve`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import asyncpg

from .envelope import Envelope
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
    return _fold(await store.load(conn, stream_id), evolve, initial)


def _fold(events: Sequence[Envelope], evolve: Callable[[S, str, dict[str, Any]], S], initial: S) -> tuple[S, int]:
    state, version = initial, 0
    for env in events:
        state, version = evolve(state, env.type, env.data), env.stream_version
    return state, version


async def load_states(
    conn: asyncpg.Connection, store: EventStore, stream_ids: Sequence[str],
    evolve: Callable[[S, str, dict[str, Any]], S], initial: S,
) -> dict[str, tuple[S, int]]:
    """`load_state` for many streams in one round trip: {stream_id: (state, version)}."""
    return {sid: _fold(events, evolve, initial) for sid, events in (await store.load_many(conn, stream_ids)).items()}
