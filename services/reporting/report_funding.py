"""Funding compliance per org and year, as funding judged it: the latest FundingAssessed of each
account in the reader's subtree (projector/funding.py) — figures, ratios, the verdict of each rule
and the policy version used — and per kind how many comply. Counting verdicts is all that happens
here; the rules are funding's (services/funding/domain/compliance.py).

Every registered org of the subtree is listed (issue 20), assessed or not: one funding never
assessed (it declared no budget and moved no money) is `declared: false`, `status: "undeclared"`
(未申报), like an assessed one that declared nothing — never left out of the list or the counts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import asyncpg

from services.reporting.queries import Params, within
from shared.orgs import org_within
from shared.ratios import ratio

JUDGED_KINDS = ("school", "county")
STATUSES = {"undeclared": "未申报", "compliant": "达标", "not_compliant": "未达标", "not_judged": "未评判"}
_FIGURES = ("declared", "public_funds_budget_fen", "payroll_fen", "training_budget_fen", "allocated_fen", "spent_fen",
            "set_aside_share", "funding_ratio", "payroll_share", "pass_down_share")
_RULE = ("rule", "ratio", "threshold_min", "threshold_max", "compliant", "spending_share", "guide_max", "above_guide",
         "notice")
_UNASSESSED: dict[str, Any] = {"declared": False, "rules": [], "compliant": None}


def _status(a: dict[str, Any]) -> str:
    """Funding's status as published; an assessment from before issue 20 carries none, and then
    its two published flags say it (no rule is applied here)."""
    if a.get("status") in STATUSES:
        return str(a["status"])
    if not a.get("declared"):
        return "undeclared"
    flag = a.get("compliant")
    return "compliant" if flag is True else "not_compliant" if flag is False else "not_judged"


def _item(r: asyncpg.Record) -> dict[str, Any]:
    a: dict[str, Any] = r["assessment"] or _UNASSESSED
    policy = a.get("policy") or {}
    status = _status(a)
    return {"org_code": r["org_code"], "name": r["name"], "kind": r["kind"] or a.get("kind"),
            "status": status, "status_label": STATUSES[status],
            **{k: a.get(k) for k in _FIGURES},
            "jurisdiction_code": policy.get("jurisdiction_code"), "policy_effective_from": policy.get("effective_from"),
            "policy_version": policy.get("version"),
            "rules": [{k: v.get(k) for k in _RULE} for v in a.get("rules", [])], "compliant": a.get("compliant")}


async def judged_orgs(conn: asyncpg.Connection, year: int, region: str | None) -> list[dict[str, Any]]:
    """Every assessed account of `year` and every registered org without one, in `region`'s subtree
    (all, for None), ordered by org code."""
    p = Params()
    code = "coalesce(a.org_code, o.code)"
    where = within(code, region, p) if region else "true"
    rows = await conn.fetch(f"""SELECT {code} AS org_code, a.assessment, o.name, o.kind
                                FROM (SELECT * FROM fund_assessments WHERE year = {p(year)}) a
                                FULL JOIN orgs o ON o.code = a.org_code WHERE {where} ORDER BY {code}""",
                            *p.values)
    return [_item(r) for r in rows]


def summary(orgs: list[dict[str, Any]], within_code: str | None = None) -> dict[str, Any]:
    """Per judged kind: how many comply, fail, could not be judged, or declared no budget, and the
    compliance rate (compliant ÷ judged; null when none was judged)."""
    out = {}
    for kind in JUDGED_KINDS:
        c = Counter(o["status"] for o in orgs if o["kind"] == kind
                    and (within_code is None or org_within(o["org_code"], within_code)))
        out[kind] = {**{k: c[k] for k in STATUSES},
                     "compliance_rate": ratio(c["compliant"], c["compliant"] + c["not_compliant"])}
    return out


async def funding(conn: asyncpg.Connection, year: int, region: str | None, after: str | None,
                  limit: int) -> dict[str, Any]:
    orgs = await judged_orgs(conn, year, region)
    page = [o for o in orgs if after is None or o["org_code"] > after]
    more = len(page) > limit
    page = page[:limit]
    return {"year": year, "region_code": region, "summary": summary(orgs), "items": page,
            "next_cursor": page[-1]["org_code"] if more else None}
