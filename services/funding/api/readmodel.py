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

_NO_ACCOUNT = f"""
SELECT o.kind, count(*)::int FROM orgs o
WHERE o.kind IN ('school', 'county') AND {orgtree.subtree_sql("o.code", "$1", "$2")}
  AND NOT EXISTS (SELECT 1 FROM funding_accounts a WHERE a.org_code = o.code AND a.year = $3)
GROUP BY o.kind
"""


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
            f = figures(r)
            flag = judged(r["kind"], f, chains[r["org_code"]], known, day).compliant
            tally[r["kind"]][compliance.status(f.declared, flag)] += 1
    # Registered schools and counties of the subtree with no account at all: undeclared too (issue 20).
    for kind, n in await conn.fetch(_NO_ACCOUNT, code, subtree_prefix(code), year):
        tally[kind]["undeclared"] += n
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
        "status": (st := compliance.status(mine.declared, verdict.compliant)),
        "status_label": compliance.STATUS_LABELS[st],
        "subtree": {"accounts": len(rows), **{k: totals[k] for k in FIGURES if k != "received_fen"},
                    "set_aside_share": compliance.ratio(totals["training_budget_fen"],
                                                        totals["public_funds_budget_fen"]),
                    "funding_ratio": compliance.ratio(totals["spent_fen"], totals["public_funds_budget_fen"]),
                    "compliance": {kind: {k: c[k] for k in compliance.STATUS_LABELS} for kind, c in tally.items()}},
    }


# Every account of the year, and every registered org of the region without one (issue 20: an
# org that declared nothing is listed as undeclared, not left out): its figures are all zero.
_ACCOUNTS = f"""
SELECT coalesce(a.org_code, o.code) AS org_code, $1::int AS year, coalesce(a.budget_version, 0) AS budget_version,
       {", ".join(f"coalesce(a.{k}, 0) AS {k}" for k in FIGURES)}, o.name, o.kind
FROM (SELECT * FROM funding_accounts WHERE year = $1) a FULL JOIN orgs o ON o.code = a.org_code
WHERE ($2::text IS NULL OR {orgtree.subtree_sql("coalesce(a.org_code, o.code)", "$2", "$3")})
  AND coalesce(a.org_code, o.code) > $4
ORDER BY coalesce(a.org_code, o.code) LIMIT $5
"""


async def verdicts(conn: asyncpg.Connection, year: int, region: str | None, as_of: date | None, after: str,
                   limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Every account of `year` in `region`'s subtree (None: everywhere) and every registered org there
    without one, after org code `after`, in org-code order, with figures, verdicts and status; and
    whether more follow."""
    rows: Sequence[asyncpg.Record] = await conn.fetch(
        _ACCOUNTS, year, region, subtree_prefix(region) if region else None, after, limit + 1)
    rows, more = rows[:limit], len(rows) > limit
    assessed = await assess(conn, rows, as_of)
    return [{"name": r["name"], **a} for r, a in zip(rows, assessed, strict=True)], more
