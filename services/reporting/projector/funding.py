"""Projection of the funding stream (services/funding/events.py): policy versions and the
per-org-and-year accounts the compliance rules read (domain/funding.py).

The account columns are running sums, so exactly-once matters: the kernel's Applier applies
each event once per source stream version, in the same transaction as its checkpoint.
FundsReversed gives back what its entry moved; SettlementCalculated moves the county's spending
by its delta (a re-settlement can lower it).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from shared.envelope import Envelope
from shared.projection import Projection

_ADD = """INSERT INTO fund_accounts (org_code, year, {col}) VALUES ($1, $2, $3)
          ON CONFLICT (org_code, year) DO UPDATE SET {col} = fund_accounts.{col} + EXCLUDED.{col}"""


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


async def _add(conn: asyncpg.Connection, col: str, org: str, year: Any, amount: Any) -> None:
    await conn.execute(_ADD.format(col=col), org, int(year), int(amount))


async def _policy(conn: asyncpg.Connection, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO fund_policies (jurisdiction_code, effective_from, school_public_funds_share,
                                      district_payroll_share_min, district_payroll_share_max, pass_down_min)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (jurisdiction_code, effective_from) DO UPDATE SET
               school_public_funds_share = EXCLUDED.school_public_funds_share,
               district_payroll_share_min = EXCLUDED.district_payroll_share_min,
               district_payroll_share_max = EXCLUDED.district_payroll_share_max,
               pass_down_min = EXCLUDED.pass_down_min""",
        d["jurisdiction_code"], date.fromisoformat(d["effective_from"]), _dec(d.get("school_public_funds_share")),
        _dec(d.get("district_payroll_share_min")), _dec(d.get("district_payroll_share_max")),
        _dec(d.get("pass_down_min")))


async def _budget(conn: asyncpg.Connection, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO fund_accounts (org_code, year, declared, public_funds_budget_fen, payroll_fen,
                                      training_budget_fen) VALUES ($1, $2, true, $3, $4, $5)
           ON CONFLICT (org_code, year) DO UPDATE SET declared = true,
               public_funds_budget_fen = EXCLUDED.public_funds_budget_fen, payroll_fen = EXCLUDED.payroll_fen,
               training_budget_fen = EXCLUDED.training_budget_fen""",
        d["org_code"], int(d["year"]), int(d["public_funds_budget_fen"]), int(d["payroll_fen"]),
        int(d["training_budget_fen"]))


async def _apply(conn: asyncpg.Connection, event: Envelope) -> None:
    d = event.data
    match event.type:
        case "FundingPolicyPublished":
            await _policy(conn, d)
        case "BudgetDeclared":
            await _budget(conn, d)
        case "FundsAllocated":
            await _add(conn, "allocated_fen", d["from_code"], d["year"], d["amount_fen"])
        case "FundsDisbursed":
            await _add(conn, "spent_fen", d["org_code"], d["year"], d["amount_fen"])
        case "FundsReversed":
            col = "allocated_fen" if d["entry_kind"] == "allocation" else "spent_fen"
            await _add(conn, col, d["org_code"], d["year"], -int(d["amount_fen"]))
        case "SettlementCalculated":
            await _add(conn, "spent_fen", d["county_code"], d["year"], d["delta_fen"])


class FundingProjection(Projection):
    name = "reporting_funding"
    sources = ("funding",)
    handles = frozenset({"FundingPolicyPublished", "BudgetDeclared", "FundsAllocated", "FundsDisbursed",
                         "FundsReversed", "SettlementCalculated"})
    tables = ("fund_policies", "fund_accounts")

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        await _apply(conn, event)

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE fund_policies, fund_accounts")
