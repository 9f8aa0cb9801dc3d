"""`entries` (the ledger: awards and approved claims, revocations marked on their row) and
`claims` (their review state), from our own events. EntryRevoked touches both: a revoked
approved claim is also flagged on the claim."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from services.credits.domain.policy import tenths, to_hours
from shared.inline import InlineProjection, Pending

LEDGER = InlineProjection("credits_ledger", ("entries", "claims"))

# Ids and dates travel as text and are parsed by PostgreSQL: on a rebuild of a million awards,
# parsing them in Python was most of this statement's cost.
_ENTRIES = """
INSERT INTO entries (entry_id, teacher_id, kind, stream_id, org_code, hours_tenths, category, earned_on,
                     school_year, recorded_on, source)
SELECT entry_id::uuid, teacher_id::uuid, kind, stream_id, org_code, hours_tenths, category, earned_on::date,
       school_year, recorded_on::date, source
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[],
            $8::text[], $9::int[], $10::text[], $11::jsonb[])
     AS t(entry_id, teacher_id, kind, stream_id, org_code, hours_tenths, category, earned_on, school_year,
          recorded_on, source)
"""


_COLUMNS = ("entry_id", "teacher_id", "kind", "stream_id", "org_code", "hours_tenths", "category", "earned_on",
            "school_year", "recorded_on", "source")
_COPY_FROM = 100  # rows; fewer go in one INSERT (a COPY costs a round trip more)
_TENTHS: dict[tuple[type, Any], int] = {}  # hours as written in events → tenths (a handful of values)


def _tenths(hours: Any) -> int:
    try:
        return _TENTHS[(type(hours), hours)]
    except KeyError:
        n = _TENTHS[(type(hours), hours)] = tenths(to_hours(hours))
        if len(_TENTHS) > 4096:
            _TENTHS.clear()
        return n
    except TypeError:  # unhashable: not a number anyway, to_hours says so
        return tenths(to_hours(hours))


async def _entries(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    """Ledger rows for many (stream_id, kind, data): one INSERT, or asyncpg's binary COPY for a long
    run (rebuilds), which takes ids as text and needs dates as dates."""
    if len(rows) >= _COPY_FROM:
        fromiso = date.fromisoformat
        await conn.copy_records_to_table("entries", columns=_COLUMNS, records=[
            (d["entry_id"], d["teacher_id"], kind, sid, d.get("org_code"), _tenths(d["hours"]), d["category"],
             fromiso(d["earned_on"]), int(d["school_year"]), fromiso(d["recorded_on"]), d.get("source") or {})
            for sid, kind, d in rows])
        return
    values = [(d["entry_id"], d["teacher_id"], kind, sid, d.get("org_code"), _tenths(d["hours"]), d["category"],
               d["earned_on"], int(d["school_year"]), d["recorded_on"], d.get("source") or {})
              for sid, kind, d in rows]
    if values:
        await conn.execute(_ENTRIES, *(list(column) for column in zip(*values, strict=True)))


@LEDGER.handles("HoursAwarded")
async def hours_awarded(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await _entries(conn, [(stream_id, "award", data)])


@LEDGER.handles_many("HoursAwarded")
async def hours_awarded_many(conn: asyncpg.Connection, events: Sequence[Pending]) -> None:
    # Awards are nearly all of a credits store (batches of completions, rebuilds): one statement a run.
    await _entries(conn, [(e.stream_id, "award", e.data) for e in events])


@LEDGER.handles("HoursClaimed")
async def hours_claimed(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO claims (claim_id, teacher_id, org_code, hours_tenths, category, source, earned_on, evidence,
                               school_year, submitted_on, status, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11)""",
        uuid.UUID(data["claim_id"]), uuid.UUID(data["teacher_id"]), data.get("org_code"),
        tenths(to_hours(data["hours"])), data["category"], data["source"], date.fromisoformat(data["earned_on"]),
        data["evidence"], int(data["school_year"]), date.fromisoformat(data["submitted_on"]), version,
    )


async def _decided(conn: asyncpg.Connection, version: int, data: dict[str, Any], status: str, on: str,
                   reason: str | None) -> None:
    await conn.execute("UPDATE claims SET status = $2, decided_on = $3, reason = $4, version = $5 WHERE claim_id = $1",
                       uuid.UUID(data["claim_id"]), status, date.fromisoformat(on), reason, version)


@LEDGER.handles("ClaimApproved")
async def claim_approved(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await _decided(conn, version, data, "approved", data["approved_on"], data.get("reason"))
    await _entries(conn, [(stream_id, "claim", data)])


@LEDGER.handles("ClaimRejected")
async def claim_rejected(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await _decided(conn, version, data, "rejected", data["rejected_on"], data["reason"])


@LEDGER.handles("EntryRevoked")
async def entry_revoked(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    entry_id = uuid.UUID(data["entry_id"])
    await conn.execute("UPDATE entries SET revoked_on = $2, revoke_reason = $3 WHERE entry_id = $1",
                       entry_id, date.fromisoformat(data["revoked_on"]), data["reason"])
    if stream_id.startswith("claim-"):
        await conn.execute("UPDATE claims SET revoked = true, version = $2 WHERE claim_id = $1", entry_id, version)
