"""Publishing a dated version of per-jurisdiction rules (enrollment's and credits' policies): the
`policy-<code>` stream holds one event per version, a later one with the same `effective_from`
correcting it, and an identical repeat records nothing. The services' deciders judge what may be
published; this is only the load → decide → record → answer every publisher repeats."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeVar

from .aggregate import load_state
from .eventstore import EventStore
from .unit_of_work import UnitOfWork


class Dated(Protocol):
    @property
    def effective_from(self) -> date | None: ...


V = TypeVar("V", bound=Dated)
Events = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Published:
    current: Any  # the version as it now stands (V)
    version: int  # the stream's version after the command: the ETag
    new: bool  # a new effective_from (201), not a correction or a repeat (200)


async def publish_version(uow: UnitOfWork, store: EventStore, stream_id: str, wanted: V,
                          evolve: Callable[[tuple[V, ...], str, dict[str, Any]], tuple[V, ...]],
                          decide: Callable[[tuple[V, ...]], Events]) -> Published:
    """Load the stream's versions, let `decide` judge `wanted` against them, record its events."""
    initial: tuple[V, ...] = ()
    state, version = await load_state(uow.conn, store, stream_id, evolve, initial)
    expected = uow.expect(stream_id, version)
    events = decide(state)
    uow.record(stream_id, expected, events)
    new = bool(events) and all(v.effective_from != wanted.effective_from for v in state)
    after: Sequence[V] = evolve(state, *events[0]) if events else state
    current = next(v for v in after if v.effective_from == wanted.effective_from)
    return Published(current, version + len(events), new)
