"""What the credits service takes from enrollment's stream: the org tree, each teacher's school
and hiring date, and completions, which it turns into HoursAwarded.

Exactly once, however often a completion is delivered:
- the kernel's per-stream checkpoint, written in the same transaction, drops redeliveries;
- the award's event id is uuid5 of the completion's event id, and events.event_id is UNIQUE, so
  even a rebuild (checkpoints reset) or a second replica cannot record a second award — the
  projection checks for the id first and skips, and the constraint backs the check up.
The award is appended inside apply(), i.e. in the same transaction as the checkpoint.
"""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from services.credits.domain.entries import decide_award
from services.credits.projector import record
from services.credits.queries import chain_and_book
from shared import telemetry
from shared.envelope import Envelope, Metadata
from shared.eventstore import NO_STREAM, EventStore
from shared.projection import Projection

# Fixed namespaces: changing them would re-award every completion on the next rebuild.
AWARD_EVENT_NS = uuid.UUID("6f3c1c52-4a0e-4bd5-9a55-2f1f0d7d1a01")
AWARD_ENTRY_NS = uuid.UUID("6f3c1c52-4a0e-4bd5-9a55-2f1f0d7d1a02")
SERVICE_ACTOR = {"sub": "credits", "role": "service", "org": None}
# One round trip for "already awarded?" and "where does the teacher work?" (the hot path).
_AWARDED_AND_SCHOOL = """SELECT EXISTS (SELECT 1 FROM events WHERE event_id = $1),
                                (SELECT school_code FROM teacher_schools WHERE teacher_id = $2)"""


def award_ids(source_event_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """(HoursAwarded event id, entry id) for a completion event."""
    return uuid.uuid5(AWARD_EVENT_NS, str(source_event_id)), uuid.uuid5(AWARD_ENTRY_NS, str(source_event_id))


class IntakeProjection(Projection):
    name = "credits_intake"
    sources = ("enrollment",)
    handles = frozenset({"OrgRegistered", "TeacherRegistered", "EnrollmentCompleted"})
    # EnrollmentFailed is deliberately not handled: a failed learner earns nothing (001 §5.3).

    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        d = event.data
        if event.type == "OrgRegistered":
            await conn.execute(
                """INSERT INTO org_tree (code, kind, parent_code) VALUES ($1, $2, $3)
                   ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind, parent_code = EXCLUDED.parent_code""",
                d["code"], d["kind"], d.get("parent_code"))
        elif event.type == "TeacherRegistered":
            hired = d.get("hired_on")
            await conn.execute(
                """INSERT INTO teacher_schools (teacher_id, school_code, hired_on) VALUES ($1, $2, $3)
                   ON CONFLICT (teacher_id) DO UPDATE SET school_code = EXCLUDED.school_code,
                                                          hired_on = EXCLUDED.hired_on""",
                uuid.UUID(d["teacher_id"]), d["school_code"], date.fromisoformat(hired) if hired else None)
        elif event.type == "EnrollmentCompleted":
            await self.award(conn, event)

    async def award(self, conn: asyncpg.Connection, event: Envelope) -> None:
        event_id, entry_id = award_ids(event.id)
        d = event.data
        done, school = await conn.fetchrow(_AWARDED_AND_SCHOOL, event_id, uuid.UUID(d["teacher_id"]))
        if done:
            return  # awarded before (a rebuild, or another replica got there first)
        # Should the teacher's registration lag behind, the nominating region locates them.
        chain, book = await chain_and_book(conn, school or d["region_code"])
        policy = book.for_chain(chain, date.fromisoformat(d["completed_on"]))
        events = decide_award(d, source_event_id=str(event.id), entry_id=str(entry_id), school_code=school,
                              policy=policy)
        if events:
            await record(conn, self.store, f"award-{entry_id}", NO_STREAM, events,
                         Metadata.caused_by(event, SERVICE_ACTOR, telemetry.current_traceparent()),
                         event_ids=[event_id])

    async def reset(self, conn: asyncpg.Connection) -> None:
        # Awards are not reset: they are our own events (the ledger read model rebuilds them).
        await conn.execute("TRUNCATE org_tree, teacher_schools")
