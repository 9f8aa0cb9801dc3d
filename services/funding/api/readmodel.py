"""The funding-ratio read model of one org and year, assembled from the projected tables.

The figures (accounts, entries, check-ins) are projections; ratios and verdicts are derived at
read time from them and the policy in force on `as_of` (default: 31 December of the year — a
year's accounts are judged at its close), so publishing a policy version re-judges past years
without rewriting any row. Rolled up the org tree: the subtree's totals, and how many of its
schools and counties meet every rule of their own policy (each org under its nearest
jurisdiction's policy).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import asyncpg

from services.funding.api.common import subtree_clause
from services.funding.domain import compliance, policy
from services.funding.domain.compliance import Figures
from shared.auth import subtree_prefix

_FIGURES = ("public_funds_budget_fen", "payroll_fen", "training_budget_fen", "received_fen", "allocated_fen",
            "spent_fen")


def _figures(row: asyncpg.Record | None) -> Figures:
    if row is None:
        return Figures()
    return Figures(**{k: row[k] for k in _FIGURES}, declared=row["budget_version"] > 0)


async def _policies(conn: asyncpg.Connection) -> dict[str, list[policy.FundingPolicy]]:
    # A handful of rows (one per jurisdiction and version): read them all.
    out: dict[str, list[policy.FundingPolicy]] = {}
    for r in await conn.fetch("SELECT * FROM funding_policies"):
        p = policy.FundingPolicy(
            r["jurisdiction_code"], r["effective_from"], r["school_public_funds_share"], r["school_share_basis"],
            r["district_payroll_share_min"], r["district_payroll_share_max"], r["pass_down_min"], dict(r["sources"]))
        out.setdefault(p.jurisdiction_code, []).append(p)
    return out


def _chain(code: str, parents: dict[str, str | None]) -> list[str]:
    chain, seen = [], set()
    current: str | None = code
    while current is not None and current not in seen:
        chain.append(current)
        seen.add(current)
        current = parents.get(current)
    return chain


async def funding(conn: asyncpg.Connection, org: asyncpg.Record, year: int, as_of: date | None) -> dict[str, Any]:
    code, day = org["code"], as_of or date(year, 12, 31)
    prefix = subtree_prefix(code)
    parents: dict[str, str | None] = {r["code"]: r["parent_code"] for r in await conn.fetch(
        f"""WITH RECURSIVE up(code, parent_code, depth) AS (
                SELECT code, parent_code, 0 FROM orgs WHERE code = $1
                UNION ALL SELECT o.code, o.parent_code, up.depth + 1 FROM orgs o JOIN up ON o.code = up.parent_code
                    WHERE up.depth < 10)
            SELECT code, parent_code FROM up
            UNION SELECT code, parent_code FROM orgs WHERE {subtree_clause("code", 1, 2)}""", code, prefix)}
    versions = await _policies(conn)
    rows = await conn.fetch(
        f"""SELECT a.*, o.kind FROM funding_accounts a JOIN orgs o ON o.code = a.org_code
            WHERE a.year = $3 AND {subtree_clause("a.org_code", 1, 2)}""", code, prefix, year)
    own = next((r for r in rows if r["org_code"] == code), None)
    figures = _figures(own)
    in_force = policy.applicable(_chain(code, parents), versions, day)
    rules = compliance.judge(org["kind"], figures, in_force)
    tally: dict[str, Counter] = {"school": Counter(), "county": Counter()}
    for r in rows:
        if r["kind"] in tally:
            verdicts = compliance.judge(r["kind"], _figures(r), policy.applicable(
                _chain(r["org_code"], parents), versions, day))
            flag = compliance.compliant(verdicts)
            tally[r["kind"]]["compliant" if flag else "not_compliant" if flag is False else "not_judged"] += 1
    totals = {k: sum(r[k] for r in rows) for k in _FIGURES}
    available = figures.training_budget_fen + figures.received_fen - figures.allocated_fen - figures.spent_fen
    return {
        "org_code": code, "name": org["name"], "kind": org["kind"], "year": year, "as_of": day.isoformat(),
        "budget": {"declared": figures.declared, "version": own["budget_version"] if own else 0,
                   **{k: getattr(figures, k) for k in _FIGURES[:3]}},
        **{k: getattr(figures, k) for k in _FIGURES[3:]}, "available_fen": available,
        "ratios": compliance.ratios(figures), "rounding": compliance.ROUNDING,
        "policy": policy.to_data(in_force) if in_force else None,
        "rules": rules, "compliant": compliance.compliant(rules),
        "subtree": {"accounts": len(rows), **{k: totals[k] for k in _FIGURES if k != "received_fen"},
                    "funding_ratio": compliance.ratio(totals["spent_fen"], totals["public_funds_budget_fen"]),
                    "compliance": {kind: {"compliant": c["compliant"], "not_compliant": c["not_compliant"],
                                          "not_judged": c["not_judged"]} for kind, c in tally.items()}},
    }
