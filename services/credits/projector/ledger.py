"""Projector handlers for the credits service's own events: policies, ledger entries, claims,
certificates. Every handler is idempotent (see projector/__init__.py): applying an event twice —
inline and again by a rebuild running meanwhile — leaves the same rows."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.credits.domain.policy import tenths, to_hours
from services.credits.projector import handles

TABLES = ("policies", "entries", "claims", "certificates")


def _d(v: str | None) -> date | None:
    return date.fromisoformat(v) if v else None


@handles("PolicyPublished")
async def policy_published(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO policies (jurisdiction_code, version, effective_from, published_on, body)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (jurisdiction_code, version) DO NOTHING""",
        data["jurisdiction_code"], version, _d(data["effective_from"]), _d(data["published_on"]), data,
    )


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
ON CONFLICT (entry_id) DO NOTHING
"""


async def insert_entries(conn: asyncpg.Connection, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Ledger rows for many (stream_id, kind, data) in one statement: what `_entry` does for one,
    for the batch paths (awards from a batch of completions, rebuilds)."""
    if not rows:
        return
    await conn.execute(
        _ENTRIES, [d["entry_id"] for _, _, d in rows], [d["teacher_id"] for _, _, d in rows],
        [k for _, k, _ in rows], [sid for sid, _, _ in rows], [d.get("org_code") for _, _, d in rows],
        [tenths(to_hours(d["hours"])) for _, _, d in rows], [d["category"] for _, _, d in rows],
        [d["earned_on"] for _, _, d in rows], [int(d["school_year"]) for _, _, d in rows],
        [d["recorded_on"] for _, _, d in rows], [d.get("source") or {} for _, _, d in rows])


async def _entry(conn: asyncpg.Connection, stream_id: str, kind: str, data: dict[str, Any]) -> None:
    await insert_entries(conn, [(stream_id, kind, data)])


@handles("HoursAwarded")
async def hours_awarded(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await _entry(conn, stream_id, "award", data)


@handles("HoursClaimed")
async def hours_claimed(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO claims (claim_id, teacher_id, org_code, hours_tenths, category, source, earned_on, evidence,
                               school_year, submitted_on, status, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11) ON CONFLICT (claim_id) DO NOTHING""",
        uuid.UUID(data["claim_id"]), uuid.UUID(data["teacher_id"]), data.get("org_code"),
        tenths(to_hours(data["hours"])), data["category"], data["source"], _d(data["earned_on"]), data["evidence"],
        int(data["school_year"]), _d(data["submitted_on"]), version,
    )


async def _decide_claim(conn: asyncpg.Connection, version: int, data: dict[str, Any], status: str, on: str,
                        reason: str | None) -> None:
    # Guarded by version: a replay of an older event never overwrites a newer state.
    await conn.execute(
        """UPDATE claims SET status = $2, decided_on = $3, reason = $4, version = $5
           WHERE claim_id = $1 AND version < $5""",
        uuid.UUID(data["claim_id"]), status, _d(on), reason, version,
    )


@handles("ClaimApproved")
async def claim_approved(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await _decide_claim(conn, version, data, "approved", data["approved_on"], data.get("reason"))
    await _entry(conn, stream_id, "claim", data)


@handles("ClaimRejected")
async def claim_rejected(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await _decide_claim(conn, version, data, "rejected", data["rejected_on"], data["reason"])


@handles("EntryRevoked")
async def entry_revoked(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    entry_id = uuid.UUID(data["entry_id"])
    await conn.execute(
        "UPDATE entries SET revoked_on = $2, revoke_reason = $3 WHERE entry_id = $1 AND revoked_on IS NULL",
        entry_id, _d(data["revoked_on"]), data["reason"],
    )
    await conn.execute("UPDATE claims SET revoked = true, version = greatest(version, $2) WHERE claim_id = $1",
                       entry_id, version)


@handles("CertificateIssued")
async def certificate_issued(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO certificates (certificate_no, teacher_id, kind, start_year, end_year, label, hours_tenths,
                                     credits, target_tenths, jurisdiction_code, entry_ids, issued_on, credential)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (certificate_no) DO NOTHING""",
        data["certificate_no"], uuid.UUID(data["teacher_id"]), data["kind"], data["start_year"], data["end_year"],
        data["label"], tenths(to_hours(data["hours"])),
        None if data.get("credits") is None else Decimal(str(data["credits"])),
        tenths(to_hours(data["target"])), data["jurisdiction_code"], [uuid.UUID(e) for e in data["entry_ids"]],
        _d(data["issued_on"]), data["credential"],
    )
