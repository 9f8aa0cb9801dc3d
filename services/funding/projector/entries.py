"""Read model: `funding_entries`, the ledger's entries, append-only — allocations, disbursements,
settlements, and reversals as new rows with the negated amount (000 §4: audited funds).

Each row carries the (stream_id, stream_version) of the event that wrote it: its place in the
recorded order is that event's position in the store, which a read joins to (api/funding.py),
so live and rebuilt rows are equal whatever order concurrent commands inserted them in. The
UNIQUE on `reverses` is a backstop only: the reversal handler decided "not yet reversed" under
the entry's stream lock (domain/ledger.decide_reverse).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from shared.inline import InlineProjection

ENTRIES = InlineProjection("funding_entries", ("funding_entries",))
_INSERT = """
INSERT INTO funding_entries (entry_id, kind, ledger, org_code, to_code, year, project_id, host_id, amount_fen, purpose,
                             reverses, detail, stream_id, stream_version)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
"""
_SETTLEMENT_DETAIL = ("participants", "fee_per_participant_fen", "amount_fen", "previously_settled_fen", "derivation")


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


async def _entry(conn: asyncpg.Connection, stream_id: str, version: int, entry_id: Any, kind: str, ledger: str,
                 d: dict[str, Any], amount: int, *, purpose: str, reverses: Any = None,
                 detail: dict[str, Any] | None = None) -> None:
    await conn.execute(_INSERT, _uuid(entry_id), kind, ledger, d.get("org_code") or d["from_code"], d.get("to_code"),
                       d["year"], _uuid(d.get("project_id")), _uuid(d.get("host_id")), amount, purpose,
                       _uuid(reverses), detail or {}, stream_id, version)


@ENTRIES.handles("FundsAllocated")
async def funds_allocated(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await _entry(conn, stream_id, version, d["allocation_id"], "allocation", "allocation", d, d["amount_fen"],
                 purpose="下拨经费")


@ENTRIES.handles("FundsDisbursed")
async def funds_disbursed(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await _entry(conn, stream_id, version, d["disbursement_id"], "disbursement", "spending", d, d["amount_fen"],
                 purpose=d.get("purpose") or "")


@ENTRIES.handles("FundsReversed")
async def funds_reversed(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    ledger = "allocation" if d["entry_kind"] == "allocation" else "spending"
    await _entry(conn, stream_id, version, d["reversal_id"], "reversal", ledger, d, -d["amount_fen"],
                 purpose=d.get("purpose") or "", reverses=d["entry_id"],
                 detail={"reason": d["reason"], "entry_kind": d["entry_kind"]})


@ENTRIES.handles("SettlementCalculated")
async def settlement_calculated(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await _entry(conn, stream_id, version, d["settlement_id"], "settlement", "spending",
                 {**d, "org_code": d["county_code"]}, d["delta_fen"], purpose="按参训人数结算培训费",
                 detail={k: d[k] for k in _SETTLEMENT_DETAIL})
