"""The funding read side: figures from the projected tables, judged at read time.

The figures (accounts, entries, check-ins) are projections; ratios and verdicts are derived at
read time from them and the policy in force on `as_of` (default: 31 December of the year — a
year's accounts are judged at its close), so publishing a policy version re-judges past years
without rewriting any row. Every verdict comes from the one judgement (services/funding/judgement.py)
— for one org rolled up over its subtree (GET /v1/orgs/{code}/funding), and for every account of
a region, published for other services (GET /v1/funding/orgs: exactly the assessments funding
also records as FundingAssessed, plus each org's name).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from services.funding.domain import compliance, policy
from services.funding.judgement import FIGURES, assess, figures, judged, policies, year_end
from shared import orgtree
from shared.orgs import subtree_prefix


async def funding(conn: asyncpg.Connection, org: asyncpg.Record, year: int, as_of: date | None) -> dict[str, Any]:
    code, day = org["code"], as_of or year_end(year)
    rows = await conn.fetch(
        f"""SELECT a.*, o.kind FROM funding_accounts a JOIN orgs o ON o.code = a.org_code
            WHERE a.year = $3 AND {orgtree.subtree_sql("a.org_code", "$1", "$2")}""", code, subtree_prefix(code), year)
    chains = await orgtree.chains(conn, [code, *(r["org_code"] for r in rows)])
    known = await policies(conn)
    own = next((r for r in rows if r["org_code"] == code), None)
    mine = figures(own)
    verdict = judged(org["kind"], mine, chains[code], known, day)
    tally: dict[str, Counter[str]] = {"school": Counter(), "county": Counter()}
    for r in rows:
        if r["kind"] in tally:
            flag = judged(r["kind"], figures(r), chains[r["org_code"]], known, day).compliant
            tally[r["kind"]]["compliant" if flag else "not_compliant" if flag is False else "not_judged"] += 1
    totals = {k: sum(r[k] for r in rows) for k in FIGURES}
    available = mine.training_budget_fen + mine.received_fen - mine.allocated_fen - mine.spent_fen
    return {
        "org_code": code, "name": org["name"], "kind": org["kind"], "year": year, "as_of": day.isoformat(),
        "budget": {"declared": mine.declared, "version": own["budget_version"] if own else 0,
                   **{k: getattr(mine, k) for k in FIGURES[:3]}},
        **{k: getattr(mine, k) for k in FIGURES[3:]}, "available_fen": available,
        "ratios": compliance.ratios(mine), "rounding": compliance.ROUNDING,
        "policy": policy.to_data(verdict.policy) if verdict.policy else None,
        "rules": verdict.rules, "compliant": verdict.compliant,
        "subtree": {"accounts": len(rows), **{k: totals[k] for k in FIGURES if k != "received_fen"},
                    "funding_ratio": compliance.ratio(totals["spent_fen"], totals["public_funds_budget_fen"]),
                    "compliance": {kind: {"compliant": c["compliant"], "not_compliant": c["not_compliant"],
                                          "not_judged": c["not_judged"]} for kind, c in tally.items()}},
    }


_ACCOUNTS = f"""
SELECT a.*, o.name, o.kind FROM funding_accounts a LEFT JOIN orgs o ON o.code = a.org_code
WHERE a.year = $1 AND ($2::text IS NULL OR {orgtree.subtree_sql("a.org_code", "$2", "$3")}) AND a.org_code > $4
ORDER BY a.org_code LIMIT $5
"""


async def verdicts(conn: asyncpg.Connection, year: int, region: str | None, as_of: date | None, after: str,
                   limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Every account of `year` in `region`'s subtree (None: everywhere) after org code `after`, in
    org-code order, with its figures and verdicts; and whether more follow."""
    rows: Sequence[asyncpg.Record] = await conn.fetch(
        _ACCOUNTS, year, region, subtree_prefix(region) if region else None, after, limit + 1)
    rows, more = rows[:limit], len(rows) > limit
    assessed = await assess(conn, rows, as_of)
    return [{"name": r["name"], **a} for r, a in zip(rows, assessed, strict=True)], more
