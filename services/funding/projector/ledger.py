"""Inline projector handlers of the funding events: policy versions, the per-org-and-year
accounts with the balance guard, and the append-only entries of the ledger.

The balance guard (see services/funding/domain/ledger.py for what "available" means): an
amount leaves an account only through

    UPDATE ... SET col = col + $amount WHERE <account> AND available >= $amount

Under READ COMMITTED a second writer blocks on the row lock and, once the first commits,
re-evaluates the WHERE against the new row; so concurrent disbursements can never together
overdraw an account, and the CHECK constraint on the table stands behind it. A refusal raises
`Refused` and the route's transaction rolls back: no event, no row.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.funding.domain.errors import Refused
from services.funding.projector import handles

AVAILABLE = "training_budget_fen::numeric + received_fen - allocated_fen - spent_fen"


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


async def available(conn: asyncpg.Connection, org_code: str, year: int) -> int:
    value = await conn.fetchval(f"SELECT {AVAILABLE} FROM funding_accounts WHERE org_code = $1 AND year = $2",
                                org_code, year)
    return int(value or 0)


async def _draw(conn: asyncpg.Connection, column: str, org_code: str, year: int, amount: int, code: str) -> None:
    """Take `amount` fen out of the org's available funds into `column`, or refuse."""
    row = await conn.fetchrow(
        f"UPDATE funding_accounts SET {column} = {column} + $3 WHERE org_code = $1 AND year = $2"
        f" AND {AVAILABLE} >= $3 RETURNING 1", org_code, year, amount)
    if row is None:
        raise Refused(code, f"{org_code} has {await available(conn, org_code, year)} fen available for training "
                            f"in {year}; {amount} fen needed")


async def _give_back(conn: asyncpg.Connection, column: str, org_code: str, year: int, amount: int) -> None:
    """Lower a committed total (a reversal); always makes more funds available."""
    await conn.execute(f"UPDATE funding_accounts SET {column} = {column} - $3 WHERE org_code = $1 AND year = $2",
                       org_code, year, amount)


async def _entry(conn: asyncpg.Connection, entry_id: Any, kind: str, ledger: str, d: dict[str, Any], amount: int,
                 org_code: str, reverses: Any = None, detail: dict[str, Any] | None = None) -> None:
    try:
        await conn.execute(
            """INSERT INTO funding_entries (entry_id, kind, ledger, org_code, to_code, year, project_id, host_id,
                   amount_fen, purpose, reverses, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
            _uuid(entry_id), kind, ledger, org_code, d.get("to_code"), d["year"], _uuid(d.get("project_id")),
            _uuid(d.get("host_id")), amount, d.get("purpose") or "", _uuid(reverses), detail or {})
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "funding_entries_reverses_key":  # a concurrent reversal won
            raise Refused("already_reversed", f"entry {reverses} is already reversed") from exc
        raise


@handles("FundingPolicyPublished")
async def policy_published(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO funding_policies (jurisdiction_code, effective_from, school_public_funds_share,
               school_share_basis, district_payroll_share_min, district_payroll_share_max, pass_down_min, sources,
               version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (jurisdiction_code, effective_from) DO UPDATE SET
               school_public_funds_share = EXCLUDED.school_public_funds_share,
               school_share_basis = EXCLUDED.school_share_basis,
               district_payroll_share_min = EXCLUDED.district_payroll_share_min,
               district_payroll_share_max = EXCLUDED.district_payroll_share_max,
               pass_down_min = EXCLUDED.pass_down_min, sources = EXCLUDED.sources, version = EXCLUDED.version""",
        d["jurisdiction_code"], date.fromisoformat(d["effective_from"]), _dec(d["school_public_funds_share"]),
        d["school_share_basis"], _dec(d["district_payroll_share_min"]), _dec(d["district_payroll_share_max"]),
        _dec(d["pass_down_min"]), d["sources"], version)


@handles("BudgetDeclared")
async def budget_declared(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    row = await conn.fetchrow(
        """INSERT INTO funding_accounts (org_code, year, budget_version, public_funds_budget_fen, payroll_fen,
                training_budget_fen) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (org_code, year) DO UPDATE SET budget_version = EXCLUDED.budget_version,
                public_funds_budget_fen = EXCLUDED.public_funds_budget_fen, payroll_fen = EXCLUDED.payroll_fen,
                training_budget_fen = EXCLUDED.training_budget_fen
            WHERE EXCLUDED.training_budget_fen::numeric + funding_accounts.received_fen
                  - funding_accounts.allocated_fen - funding_accounts.spent_fen >= 0
            RETURNING 1""",
        d["org_code"], d["year"], version, d["public_funds_budget_fen"], d["payroll_fen"], d["training_budget_fen"])
    if row is None:
        committed = await conn.fetchval(
            "SELECT allocated_fen + spent_fen - received_fen FROM funding_accounts WHERE org_code = $1 AND year = $2",
            d["org_code"], d["year"])
        raise Refused("budget_below_committed", f"{d['org_code']} has already committed {committed} fen of its own "
                                                f"training budget for {d['year']}")


@handles("FundsAllocated")
async def funds_allocated(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    amount, year = d["amount_fen"], d["year"]
    # The allocating org's row first, then the receiving org's: ancestors before descendants.
    await _draw(conn, "allocated_fen", d["from_code"], year, amount, "insufficient_funds")
    await conn.execute(
        """INSERT INTO funding_accounts (org_code, year, received_fen) VALUES ($1, $2, $3)
           ON CONFLICT (org_code, year) DO UPDATE
           SET received_fen = funding_accounts.received_fen + EXCLUDED.received_fen""",
        d["to_code"], year, amount)
    await _entry(conn, d["allocation_id"], "allocation", "allocation", {**d, "purpose": "下拨经费"}, amount,
                 d["from_code"])


@handles("FundsDisbursed")
async def funds_disbursed(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await _draw(conn, "spent_fen", d["org_code"], d["year"], d["amount_fen"], "insufficient_funds")
    await _entry(conn, d["disbursement_id"], "disbursement", "spending", d, d["amount_fen"], d["org_code"])


@handles("FundsReversed")
async def funds_reversed(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    amount, year, org = d["amount_fen"], d["year"], d["org_code"]
    ledger = "allocation" if d["entry_kind"] == "allocation" else "spending"
    # The entry first: its UNIQUE (reverses) turns a racing second reversal away before any total moves.
    await _entry(conn, d["reversal_id"], "reversal", ledger, d, -amount, org, reverses=d["entry_id"],
                 detail={"reason": d["reason"], "entry_kind": d["entry_kind"]})
    if ledger == "allocation":
        await _give_back(conn, "allocated_fen", org, year, amount)
        # The receiver gives the money back only if it still has it (not spent or passed on).
        row = await conn.fetchrow(
            f"UPDATE funding_accounts SET received_fen = received_fen - $3 WHERE org_code = $1 AND year = $2"
            f" AND {AVAILABLE} >= $3 RETURNING 1", d["to_code"], year, amount)
        if row is None:
            raise Refused("allocation_committed", f"{d['to_code']} has already committed part of this allocation")
    else:
        await _give_back(conn, "spent_fen", org, year, amount)


@handles("SettlementCalculated")
async def settlement_calculated(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    delta, county, year = d["delta_fen"], d["county_code"], d["year"]
    if delta > 0:
        await _draw(conn, "spent_fen", county, year, delta, "insufficient_funds")
    elif delta < 0:
        await _give_back(conn, "spent_fen", county, year, -delta)
    detail = {k: d[k] for k in ("participants", "fee_per_participant_fen", "amount_fen", "previously_settled_fen",
                                "derivation")}
    await _entry(conn, d["settlement_id"], "settlement", "spending", {**d, "purpose": "按参训人数结算培训费"}, delta,
                 county, detail=detail)

