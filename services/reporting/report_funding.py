"""Funding compliance per org and year (domain/funding.py), as a report document: each school
and county with an account in the reader's subtree, its ratios and verdicts, and per kind how
many comply — the same verdicts the funding service gives, from its events."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import asyncpg

from services.reporting.domain.funding import Account, FundingPolicy, compliant, judge
from services.reporting.domain.policy import nearest_in_force
from services.reporting.domain.rates import ratio
from services.reporting.queries import Params, chain, parents, within
from shared.auth import org_within

JUDGED_KINDS = ("school", "county")


async def judged_orgs(conn: asyncpg.Connection, year: int, region: str | None) -> list[dict[str, Any]]:
    """Every account of `year` in `region`'s subtree (all, for None), judged, ordered by org code."""
    versions: dict[str, list[FundingPolicy]] = {}
    for r in await conn.fetch("SELECT * FROM fund_policies"):  # a handful of rows: one per version
        versions.setdefault(r["jurisdiction_code"], []).append(FundingPolicy(
            r["jurisdiction_code"], r["effective_from"], r["school_public_funds_share"],
            r["district_payroll_share_min"], r["district_payroll_share_max"], r["pass_down_min"]))
    p = Params()
    where = f"a.year = {p(year)}" + (" AND " + within("a.org_code", region, p) if region else "")
    rows = await conn.fetch(f"""SELECT a.*, o.name, o.kind FROM fund_accounts a LEFT JOIN orgs o ON o.code = a.org_code
                                WHERE {where} ORDER BY a.org_code""", *p.values)
    tree = await parents(conn, [r["org_code"] for r in rows])
    out = []
    for r in rows:
        account = Account(r["declared"], r["public_funds_budget_fen"], r["payroll_fen"], r["training_budget_fen"],
                          r["allocated_fen"], r["spent_fen"])
        policy = nearest_in_force(chain(r["org_code"], tree), versions, date(year, 12, 31))
        verdicts = judge(r["kind"] or "", account, policy)
        out.append({
            "org_code": r["org_code"], "name": r["name"], "kind": r["kind"], "declared": account.declared,
            "public_funds_budget_fen": account.public_funds_budget_fen, "payroll_fen": account.payroll_fen,
            "training_budget_fen": account.training_budget_fen, "allocated_fen": account.allocated_fen,
            "spent_fen": account.spent_fen,
            "funding_ratio": ratio(account.spent_fen, account.public_funds_budget_fen),
            "payroll_share": ratio(account.training_budget_fen, account.payroll_fen),
            "pass_down_share": ratio(account.allocated_fen, account.training_budget_fen),
            "jurisdiction_code": policy.jurisdiction_code if policy else None,
            "policy_effective_from": policy.effective_from if policy else None,
            "rules": [{"rule": v.rule, "ratio": v.ratio, "threshold_min": str(v.threshold_min),
                       "threshold_max": None if v.threshold_max is None else str(v.threshold_max),
                       "compliant": v.compliant} for v in verdicts],
            "compliant": compliant(verdicts)})
    return out


def summary(orgs: list[dict[str, Any]], within_code: str | None = None) -> dict[str, Any]:
    """Per judged kind: how many comply, fail, or could not be judged, and the compliance rate
    (compliant ÷ judged; null when none was judged)."""
    out = {}
    for kind in JUDGED_KINDS:
        c = Counter(o["compliant"] for o in orgs if o["kind"] == kind
                    and (within_code is None or org_within(o["org_code"], within_code)))
        out[kind] = {"compliant": c[True], "not_compliant": c[False], "not_judged": c[None],
                     "compliance_rate": ratio(c[True], c[True] + c[False])}
    return out


async def funding(conn: asyncpg.Connection, year: int, region: str | None, after: str | None,
                  limit: int) -> dict[str, Any]:
    orgs = await judged_orgs(conn, year, region)
    page = [o for o in orgs if after is None or o["org_code"] > after]
    more = len(page) > limit
    page = page[:limit]
    return {"year": year, "region_code": region, "summary": summary(orgs), "items": page,
            "next_cursor": page[-1]["org_code"] if more else None}
