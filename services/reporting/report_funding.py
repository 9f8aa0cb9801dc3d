"""Funding compliance per org and year, as funding judged it: the latest FundingAssessed of each
account in the reader's subtree (projector/funding.py) — figures, ratios, the verdict of each rule
and the policy version used — and per kind how many comply. Counting verdicts is all that happens
here; the rules are funding's (services/funding/domain/compliance.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import asyncpg

from services.reporting.queries import Params, within
from shared.orgs import org_within
from shared.ratios import ratio

JUDGED_KINDS = ("school", "county")
_FIGURES = ("declared", "public_funds_budget_fen", "payroll_fen", "training_budget_fen", "allocated_fen", "spent_fen",
            "funding_ratio", "payroll_share", "pass_down_share")
_RULE = ("rule", "ratio", "threshold_min", "threshold_max", "compliant")


def _item(r: asyncpg.Record) -> dict[str, Any]:
    a = r["assessment"]
    policy = a.get("policy") or {}
    return {"org_code": r["org_code"], "name": r["name"], "kind": r["kind"] or a.get("kind"),
            **{k: a.get(k) for k in _FIGURES},
            "jurisdiction_code": policy.get("jurisdiction_code"), "policy_effective_from": policy.get("effective_from"),
            "policy_version": policy.get("version"),
            "rules": [{k: v.get(k) for k in _RULE} for v in a.get("rules", [])], "compliant": a.get("compliant")}


async def judged_orgs(conn: asyncpg.Connection, year: int, region: str | None) -> list[dict[str, Any]]:
    """Every assessed account of `year` in `region`'s subtree (all, for None), ordered by org code."""
    p = Params()
    where = f"a.year = {p(year)}" + (" AND " + within("a.org_code", region, p) if region else "")
    rows = await conn.fetch(f"""SELECT a.org_code, a.assessment, o.name, o.kind FROM fund_assessments a
                                LEFT JOIN orgs o ON o.code = a.org_code WHERE {where} ORDER BY a.org_code""",
                            *p.values)
    return [_item(r) for r in rows]


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
