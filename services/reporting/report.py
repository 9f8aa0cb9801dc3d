"""Report documents (the JSON of the API; the exports and the dashboard show the same values).

Rates are strings with 4 decimals, ROUND_HALF_EVEN, and null when their denominator is 0
(domain/rates.py); counts are integers. Nothing here is a float, so no NaN or Infinity can
reach the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.reporting import queries, reads
from services.reporting.domain.policy import policy_for
from services.reporting.domain.rates import NOTICE_RATES, Figures, shown
from services.reporting.domain.tilt import suggest_quotas
from shared.orgs import org_within

GROUP_LABELS = {"project": "项目", "region": "地区", "host": "承办单位", "level": "项目级别", "year": "项目年度",
                "total": "合计"}
RATE_LABELS = {"selection_rate": "选送率", "check_in_rate": "报到率", "completion_rate": "结业率",
               "satisfaction_rate": "满意率"}


@dataclass(frozen=True)
class RatesQuery:
    year: int | None = None
    region_code: str | None = None
    level: str | None = None
    project_id: Any = None
    group_by: str = "project"
    host_id: str | None = None  # set by the scope for hosts, never by the caller

    def filter(self) -> queries.Filter:
        return queries.Filter(year=self.year, level=self.level, project_id=self.project_id, region=self.region_code,
                              host_id=self.host_id)


def _item(group: str, row: dict[str, Any]) -> dict[str, Any]:
    label = queries.LEVEL_LABELS.get(row["key"]) if group == "level" else row["label"]
    return {"key": row["key"], "label": label, **Figures.of(row).as_json()}


async def rates(conn: asyncpg.Connection, q: RatesQuery, after: str | None = None,
                limit: int | None = None) -> dict[str, Any]:
    f = q.filter()
    total = await queries.figures(conn, f, "total")
    rows = await queries.figures(conn, f, q.group_by, after, None if limit is None else limit + 1)
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    return {
        "year": q.year, "region_code": q.region_code, "level": q.level,
        "project_id": None if q.project_id is None else str(q.project_id), "group_by": q.group_by,
        "total": (Figures.of(total[0]) if total else Figures()).as_json(),
        "items": [_item(q.group_by, r) for r in rows],
        "next_cursor": rows[-1]["sort"] if more and rows else None,
    }


def roll_up(rows: list[dict[str, Any]], code: str) -> Figures:
    """Sum the per-region rows whose region lies in `code`'s subtree."""
    total = Figures()
    for r in rows:
        if org_within(r["key"], code):
            total += Figures.of(r)
    return total


async def regions(conn: asyncpg.Connection, f: queries.Filter, after: str | None, limit: int) -> dict[str, Any]:
    """`f.region`'s figures and each of its children's (the provinces' when it is None). A parent
    not (yet) in the org tree still gets its figures; it just has no children to show."""
    parent = None if f.region is None else await queries.org(conn, f.region)
    rows = await queries.figures(conn, f, "region")
    kids = [c for c in await queries.children(conn, f.region) if after is None or c["code"] > after]
    page, more = kids[:limit], len(kids) > limit
    parent_figures = sum((Figures.of(r) for r in rows), Figures())
    return {
        "year": f.year,
        "parent": None if f.region is None else {
            "region_code": f.region, "name": parent["name"] if parent else None,
            "kind": parent["kind"] if parent else None, **parent_figures.as_json()},
        "items": [{"region_code": c["code"], "name": c["name"], "kind": c["kind"],
                   **roll_up(rows, c["code"]).as_json()} for c in page],
        "next_cursor": page[-1]["code"] if more else None,
    }


async def notices(conn: asyncpg.Connection, f: queries.Filter, min_rate: Decimal,
                  which: tuple[str, ...] = NOTICE_RATES) -> dict[str, Any]:
    """Cities and counties in scope whose rates fall below `min_rate` (004 §4.2 通报)."""
    rows = await queries.figures(conn, f, "region")
    items = []
    for region in await queries.regions_of_kind(conn, f.region, ("city", "county")):
        figures = roll_up(rows, region["code"])
        below = [rate for rate in which if figures.below(rate, min_rate)]
        if below:
            items.append({"region_code": region["code"], "name": region["name"], "kind": region["kind"],
                          "below": below, **figures.as_json()})
    shown = f"{(min_rate * 100).normalize():f}%"
    title = f"{f.year}年度{'、'.join(RATE_LABELS[r] for r in which)}低于{shown}的地区"
    return {"year": f.year, "min_rate": str(min_rate), "rates": list(which),
            "title": title, "items": items,
            "next_cursor": None}


async def quota_suggestions(conn: asyncpg.Connection, f: queries.Filter, places: int) -> dict[str, Any]:
    """Next year's places for `f.region`'s child regions (the provinces' when it is None), tilted by
    this year's selection quality (domain/tilt.py, 004 §4.1), under the policy in force on
    31 December of the year for the parent's province."""
    assert f.year is not None
    policy = policy_for(f.region, date(f.year, 12, 31), await reads.published_policies(conn))
    rows = await queries.figures(conn, f, "region")
    kids = await queries.children(conn, f.region)
    figures = [(c["code"], roll_up(rows, c["code"])) for c in kids]
    by_code = {c["code"]: c for c in kids}
    suggestions = suggest_quotas(figures, places, policy)
    return {
        "year": f.year, "for_year": f.year + 1, "parent_code": f.region,
        "level": f.level, "places": places,
        "formula": {"weights": {k: str(v) for k, v in policy.tilt_weights.items()},
                    "strength": str(policy.tilt_strength), "max_shift": str(policy.tilt_max_shift),
                    "source": "004 §4.1; the formula and its numbers are reporting policy (domain/tilt.py)"},
        "items": [{"region_code": s.region_code, "name": by_code[s.region_code]["name"],
                   "kind": by_code[s.region_code]["kind"], **fig.as_json(),
                   "score": shown(s.score), "factor": shown(s.factor), "suggested_places": s.places}
                  for s, (_, fig) in zip(suggestions, figures, strict=True)],
    }
