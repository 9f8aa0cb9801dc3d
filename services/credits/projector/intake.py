"""What the credits service takes from enrollment's stream: the org tree, each teacher's school
and hiring date, and completions, which it turns into HoursAwarded (handlers/award.py).

Exactly once, however often a completion is delivered:
- the kernel's per-stream checkpoint, written in the same transaction, drops redeliveries;
- the award's event id is uuid5 of the completion's event id, and events.event_id is UNIQUE, so
  even a rebuild (checkpoints reset) or a second replica cannot record a second award — the
  award handler checks for the id first and skips, and the constraint backs the check up.
The award is appended inside apply(), i.e. in the same transaction as the checkpoint.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg
from asyncpg.pgproto.pgproto import UUID as FastUUID

from services.credits.handlers import award
from shared import telemetry
from shared.envelope import Envelope
from shared.inline import InlineProjection
from shared.projection import Projection, Traced

# Fixed namespaces: changing them would re-award every completion on the next rebuild.
AWARD_EVENT_NS = uuid.UUID("6f3c1c52-4a0e-4bd5-9a55-2f1f0d7d1a01")
AWARD_ENTRY_NS = uuid.UUID("6f3c1c52-4a0e-4bd5-9a55-2f1f0d7d1a02")


# SHA-1 already fed each namespace: a completion's two ids copy it instead of hashing it again.
_EVENT_NS, _ENTRY_NS = hashlib.sha1(AWARD_EVENT_NS.bytes), hashlib.sha1(AWARD_ENTRY_NS.bytes)
# RFC 4122's version (5) and variant bits, over the digest's first 16 bytes as one integer.
_KEEP = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_SET = (0x5 << 76) | (0x2 << 62)


def _uuid5(namespace: Any, name: bytes) -> uuid.UUID:
    """uuid.uuid5 (RFC 4122 §4.3: SHA-1 of namespace and name, version 5, RFC variant), the same
    UUID in a fraction of the time: the namespace is hashed once, the bits are set on one integer,
    and the result is built as asyncpg's C UUID (a uuid.UUID, equal and hashing alike) instead of
    through uuid.UUID's checks. Every completion needs two (tests/credits hold them equal to uuid.uuid5)."""
    h = namespace.copy()
    h.update(name)
    fast: uuid.UUID = FastUUID(((int.from_bytes(h.digest()[:16]) & _KEEP) | _SET).to_bytes(16))
    return fast


def award_ids(source_event_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """(HoursAwarded event id, entry id) for a completion event."""
    name = str(source_event_id).encode()
    return _uuid5(_EVENT_NS, name), _uuid5(_ENTRY_NS, name)


def _completion(event: Envelope, traceparent: str | None) -> award.Completion:
    return award.Completion(event, traceparent, *award_ids(event.id))


class IntakeProjection(Projection):
    name = "credits_intake"
    sources = ("enrollment",)
    tables = ("org_tree", "teacher_schools")
    handles = frozenset({"OrgRegistered", "TeacherRegistered", "EnrollmentCompleted"})
    follows = frozenset({"org", "teacher", "enrollment"})  # the streams of those types: no checkpoint for the rest
    # Consumer contract (shared/contracts.py): what it reads of enrollment's published events; a
    # completion's fields are those domain/entries.decide_award and handlers/award.py read.
    reads = {
        "OrgRegistered": frozenset({"code", "kind", "parent_code"}),
        "TeacherRegistered": frozenset({"teacher_id", "school_code", "hired_on"}),
        "EnrollmentCompleted": frozenset({"enrollment_id", "project_id", "teacher_id", "region_code", "host_id",
                                          "level", "year", "hours", "hour_category", "completed_on"}),
    }
    # EnrollmentFailed is deliberately not handled: a failed learner earns nothing (001 §5.3).

    def __init__(self, inline: Sequence[InlineProjection]) -> None:
        self.inline = inline  # the service's inline projections, which awards are recorded through

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
            await award.handle(conn, self.inline, [_completion(event, telemetry.current_traceparent())])

    async def apply_batch(self, conn: asyncpg.Connection, items: list[Traced]) -> None:
        """Runs of completions are awarded together (a few statements per run, not per event);
        org and teacher events in between apply one by one, in order, so a completion always
        sees the school its teacher was registered at before it."""
        run: list[award.Completion] = []
        for item in items:
            if item.event.type == "EnrollmentCompleted":
                run.append(_completion(item.event, item.traceparent))
                continue
            await award.handle(conn, self.inline, run)
            run = []
            await self.apply(conn, item.event)
        await award.handle(conn, self.inline, run)

    async def reset(self, conn: asyncpg.Connection) -> None:
        # Awards are not reset: they are our own events (the inline rebuild refills their entries).
        await conn.execute(f"TRUNCATE {', '.join(self.tables)}")
