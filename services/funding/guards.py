"""The guard of the funding service: `funding_accounts`, one row per org and year — the declared
budget and the running totals the balance rules read (domain/accounts.py).

Facts, never decisions: the handlers lock the rows they need (SELECT … FOR UPDATE in their facts
query), the domain judges, and only then are the events recorded; this projection writes what the
events say with plain increments and refuses nothing. The CHECK constraints of the table (no
total below zero, `available` never negative; migrations/0002) stand behind the lock as a
backstop: a violation means a handler took the wrong lock, and the kernel answers 409.

Lock order, for every command: an allocating org's row before the row of the org below it (the
allocation handler locks the source; the receiver's row is written after it, here). Money only
flows down the tree, so no two commands can wait on each other's rows in a cycle
(services/funding/handlers/facts.py).
"""

from __future__ import annotations

from typing import Any, Literal

import asyncpg

from shared.inline import InlineProjection

ACCOUNTS = InlineProjection("funding_accounts", ("funding_accounts",))
Total = Literal["received_fen", "allocated_fen", "spent_fen"]  # what _move may move


async def _move(conn: asyncpg.Connection, org_code: str, year: int, column: Total, delta: int) -> None:
    """`column` of the org's account moves by `delta`: money can only leave, or come back to, an
    account that exists (the domain judged it on that row)."""
    await conn.execute(f"UPDATE funding_accounts SET {column} = {column} + $3 WHERE org_code = $1 AND year = $2",
                       org_code, year, delta)


async def _receive(conn: asyncpg.Connection, org_code: str, year: int, amount: int) -> None:
    """An allocation arrives: the receiver's account is opened with it if it has none yet (an org
    that receives funds before declaring a budget)."""
    await conn.execute(
        """INSERT INTO funding_accounts (org_code, year, received_fen) VALUES ($1, $2, $3)
           ON CONFLICT (org_code, year) DO UPDATE SET received_fen = funding_accounts.received_fen + $3""",
        org_code, year, amount)


@ACCOUNTS.handles("BudgetDeclared")
async def budget_declared(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # budget_version is the budget stream's version: the budget handler's If-Match and ETag.
    await conn.execute(
        """INSERT INTO funding_accounts (org_code, year, budget_version, public_funds_budget_fen, payroll_fen,
               training_budget_fen) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (org_code, year) DO UPDATE SET budget_version = EXCLUDED.budget_version,
               public_funds_budget_fen = EXCLUDED.public_funds_budget_fen, payroll_fen = EXCLUDED.payroll_fen,
               training_budget_fen = EXCLUDED.training_budget_fen""",
        d["org_code"], d["year"], version, d["public_funds_budget_fen"], d["payroll_fen"], d["training_budget_fen"])


@ACCOUNTS.handles("FundsAllocated")
async def funds_allocated(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await _move(conn, d["from_code"], d["year"], "allocated_fen", d["amount_fen"])  # the lock order: source first
    await _receive(conn, d["to_code"], d["year"], d["amount_fen"])


@ACCOUNTS.handles("FundsDisbursed")
async def funds_disbursed(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await _move(conn, d["org_code"], d["year"], "spent_fen", d["amount_fen"])


@ACCOUNTS.handles("FundsReversed")
async def funds_reversed(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    if d["entry_kind"] == "allocation":
        await _move(conn, d["org_code"], d["year"], "allocated_fen", -d["amount_fen"])
        await _move(conn, d["to_code"], d["year"], "received_fen", -d["amount_fen"])
    else:
        await _move(conn, d["org_code"], d["year"], "spent_fen", -d["amount_fen"])


@ACCOUNTS.handles("SettlementCalculated")
async def settlement_calculated(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    if d["delta_fen"]:
        await _move(conn, d["county_code"], d["year"], "spent_fen", d["delta_fen"])
