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
from services.credits.domain.policies import PolicyBook
from services.credits.events import registry
from services.credits.projector import record
from services.credits.projector.ledger import insert_entries
from services.credits.queries import chain_and_book
from shared import telemetry
from shared.envelope import Envelope, Metadata, NewEvent
from shared.eventstore import NO_STREAM, EventStore
from shared.projection import Projection, Traced

# Fixed namespaces: changing them would re-award every completion on the next rebuild.
AWARD_EVENT_NS = uuid.UUID("6f3c1c52-4a0e-4bd5-9a55-2f1f0d7d1a01")
AWARD_ENTRY_NS = uuid.UUID("6f3c1c52-4a0e-4bd5-9a55-2f1f0d7d1a02")
SERVICE_ACTOR = {"sub": "credits", "role": "service", "org": None}
# One round trip for "already awarded?" and "where does the teacher work?" (the hot path).
_AWARDED_AND_SCHOOL = """SELECT EXISTS (SELECT 1 FROM events WHERE event_id = $1),
                                (SELECT school_code FROM teacher_schools WHERE teacher_id = $2)"""
# The same for a whole batch of completions, in their order.
_AWARDED_AND_SCHOOLS = """
SELECT EXISTS (SELECT 1 FROM events e WHERE e.event_id = t.award_id) AS done,
       (SELECT s.school_code FROM teacher_schools s WHERE s.teacher_id = t.teacher_id) AS school
FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS t(award_id, teacher_id, ord)
ORDER BY t.ord
"""


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

    async def apply_batch(self, conn: asyncpg.Connection, items: list[Traced]) -> None:
        """Runs of completions are awarded together (a few statements per run, not per event);
        org and teacher events in between apply one by one, in order, so a completion always
        sees the school its teacher was registered at before it."""
        run: list[Traced] = []
        for item in items:
            if item.event.type == "EnrollmentCompleted":
                run.append(item)
                continue
            await self._award_all(conn, run)
            run = []
            await self.apply(conn, item.event)
        await self._award_all(conn, run)

    async def _award_all(self, conn: asyncpg.Connection, run: list[Traced]) -> None:
        if not run:
            return
        ids = [award_ids(item.event.id) for item in run]
        facts = await conn.fetch(_AWARDED_AND_SCHOOLS, [event_id for event_id, _ in ids],
                                 [uuid.UUID(item.event.data["teacher_id"]) for item in run])
        books: dict[str, tuple[list[str], PolicyBook]] = {}  # per code, for this batch
        ledger_rows: list[tuple[str, str, dict]] = []
        streams: list[tuple[str, list[NewEvent], Metadata]] = []
        for item, (event_id, entry_id), fact in zip(run, ids, facts, strict=True):
            if fact["done"]:
                continue  # awarded before (a rebuild, or another replica got there first)
            d, school = item.event.data, fact["school"]
            code = school or d["region_code"]
            if code not in books:
                books[code] = await chain_and_book(conn, code)
            chain, book = books[code]
            policy = book.for_chain(chain, date.fromisoformat(d["completed_on"]))
            events = decide_award(d, source_event_id=str(item.event.id), entry_id=str(entry_id), school_code=school,
                                  policy=policy)
            if not events:
                continue
            stream = f"award-{entry_id}"
            [(type_, data)] = events  # decide_award decides one HoursAwarded or nothing
            ledger_rows.append((stream, "award", data))  # what the inline hours_awarded handler writes
            streams.append((stream, [NewEvent(type_, data, registry.current_version(type_), event_id)],
                            Metadata.caused_by(item.event, SERVICE_ACTOR, item.traceparent)))
        await insert_entries(conn, ledger_rows)
        await self.store.append_new_streams(conn, streams)

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
