"""The award reaction (DOMAIN.md: "Completion awards the project's credit hours"; a failed
learner earns nothing, 001 §5.3): enrollment's EnrollmentCompleted → our HoursAwarded.

Not an HTTP command: the intake projection (projector/intake.py) runs it inside its consumer
transaction, beside its checkpoint, for a run of completions at a time. Load the facts (already
awarded? the teacher's school; the policies up its chain) → the pure `decide_award` → record
through the inline projections, appending last.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple

import asyncpg

from services.credits.domain.entries import decide_award
from services.credits.domain.policy import Policy
from services.credits.events import registry, store
from services.credits.queries.policies import chains_and_book
from shared.envelope import Envelope, Metadata, NewEvent
from shared.eventstore import NO_STREAM
from shared.inline import InlineProjection, project_and_append, take_inline_lock

SERVICE_ACTOR = {"sub": "credits", "role": "service", "org": None}
_UNKNOWN: Any = object()  # not looked up yet (None is a real answer: no policy in force)
# Whether each award exists and where each teacher works, for a run of completions, in order.
_AWARDED_AND_SCHOOLS = """
SELECT EXISTS (SELECT 1 FROM events e WHERE e.event_id = t.award_id) AS done,
       (SELECT s.school_code FROM teacher_schools s WHERE s.teacher_id = t.teacher_id) AS school
FROM unnest($1::uuid[], $2::text[]::uuid[]) WITH ORDINALITY AS t(award_id, teacher_id, ord)
ORDER BY t.ord
"""


class Completion(NamedTuple):
    """An EnrollmentCompleted to award, with the ids its award must carry (deterministic, so the
    same completion can never be awarded twice: events.event_id is UNIQUE). A tuple: one per
    completion, made in a fraction of a frozen dataclass's time."""

    event: Envelope
    traceparent: str | None
    award_event_id: uuid.UUID
    entry_id: uuid.UUID


async def handle(conn: asyncpg.Connection, inline: Sequence[InlineProjection], run: Sequence[Completion]) -> None:
    if not run:
        return
    # First, before reading anything: a rebuild of the inline tables (it holds this lock
    # exclusively) must neither run under us nor show us half-refilled policies.
    await take_inline_lock(conn)
    # Teacher ids go as the text the events carry; PostgreSQL parses them (a uuid.UUID each cost more).
    facts = await conn.fetch(_AWARDED_AND_SCHOOLS, [c.award_event_id for c in run],
                             [c.event.data["teacher_id"] for c in run])
    # Awarded before (a rebuild, or another replica got there first): nothing to decide.
    todo = [(c, f["school"]) for c, f in zip(run, facts, strict=True) if not f["done"]]
    if not todo:
        return
    # Should the teacher's registration lag behind, the nominating region locates them.
    chains, book = await chains_and_book(conn, {school or c.event.data["region_code"] for c, school in todo})
    # The policy in force, per (code, completion day): a run of completions shares a few of each.
    policies: dict[tuple[str, str], Policy | None] = {}
    decided: list[tuple[Completion, list[tuple[str, dict[str, Any]]]]] = []
    for c, school in todo:
        d = c.event.data
        code, on = school or d["region_code"], d["completed_on"]
        if (policy := policies.get((code, on), _UNKNOWN)) is _UNKNOWN:
            policy = policies[(code, on)] = book.for_chain(chains[code], date.fromisoformat(on))
        events = decide_award(d, source_event_id=str(c.event.id), entry_id=str(c.entry_id), school_code=school,
                              policy=policy)
        if events:
            decided.append((c, events))
    if not decided:
        return
    # The run's events through the personal-data gate at once (NewEvent.many), each with its id.
    new = NewEvent.many([(t, data, registry.version_for(t, data)) for _, events in decided for t, data in events],
                        [c.award_event_id for c, events in decided for _ in events])
    streams: list[tuple[str, int, list[NewEvent], Metadata]] = []
    at = 0
    for c, events in decided:
        streams.append((f"award-{c.entry_id}", NO_STREAM, new[at:at + len(events)],
                        Metadata.caused_by(c.event, SERVICE_ACTOR, c.traceparent)))
        at += len(events)
    await project_and_append(conn, store, inline, streams)
