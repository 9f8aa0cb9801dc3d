"""Active hours per teacher and school year (`teacher_years`), the base of the per-org
compliance roll-ups, kept from our own CREDITS stream by a kernel consumer.

Why a consumer and not an inline projection: a teacher's yearly row is shared by every entry of
that year — the intake's batches of awards and the commands (claims, revocations) alike — and
writing it inline would make each of them queue on the other's row locks until COMMIT. Here only
this consumer writes the rows, exactly once per event (kernel checkpoints), so the updates can be
plain increments. The events carry everything needed (EntryRevoked repeats the
entry's hours, category and school year), so this model never reads another table.
"""

from __future__ import annotations

import uuid

import asyncpg

from services.credits.domain.policy import tenths, to_hours
from shared.envelope import Envelope
from shared.projection import Projection

_ADD = """
INSERT INTO teacher_years (teacher_id, school_year, hours_tenths, by_category)
VALUES ($1, $2, $3::bigint, jsonb_build_object($4::text, $3::bigint))
ON CONFLICT (teacher_id, school_year) DO UPDATE SET
    hours_tenths = teacher_years.hours_tenths + EXCLUDED.hours_tenths,
    by_category = teacher_years.by_category || jsonb_build_object(
        $4::text, coalesce((teacher_years.by_category ->> $4::text)::bigint, 0) + $3::bigint)
"""


class ComplianceProjection(Projection):
    name = "credits_compliance"
    sources = ("credits",)
    tables = ("teacher_years",)
    handles = frozenset({"HoursAwarded", "ClaimApproved", "EntryRevoked"})
    reads = dict.fromkeys(handles, frozenset({"teacher_id", "school_year", "hours", "category"}))

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        d = event.data
        delta = tenths(to_hours(d["hours"]))
        if event.type == "EntryRevoked":
            delta = -delta
        await conn.execute(_ADD, uuid.UUID(d["teacher_id"]), int(d["school_year"]), delta, d["category"])

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE teacher_years")
