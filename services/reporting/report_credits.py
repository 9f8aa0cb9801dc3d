"""Credit compliance per region and school year, as credits judges it: its published verdicts per
school (services/reporting/peers.py) added up for the region and each of its child regions on
reporting's copy of the org tree. Nothing here knows a target, a policy or a school year's bounds;
`share` is the display of meeting ÷ teachers, rounded down as credits shows it."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
from fastapi import FastAPI

from services.reporting import peers
from services.reporting.queries import children
from shared.orgs import org_within
from shared.ratios import ratio_down, tenths_as_hours

FIELDS = ("teachers", "meeting", "without_policy", "with_hours", "hours_tenths")


def figures(schools: list[dict[str, Any]], code: str | None = None) -> dict[str, Any]:
    total = {f: sum(s[f] for s in schools if code is None or org_within(s["school_code"], code)) for f in FIELDS}
    return {"teachers": total["teachers"], "meeting": total["meeting"], "without_policy": total["without_policy"],
            "with_hours": total["with_hours"], "hours": tenths_as_hours(total["hours_tenths"]),
            "share": ratio_down(total["meeting"], total["teachers"])}


def policies(schools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The policy versions credits judged by, each once."""
    seen = {(p["jurisdiction_code"], p["version"]): p for s in schools if (p := s.get("policy"))}
    return [seen[k] for k in sorted(seen)]


async def credits(app: FastAPI, conn: asyncpg.Connection, year: int, region: str | None,
                  as_of: date) -> dict[str, Any]:
    schools = await peers.pages(app, "credits", "/v1/compliance/schools",
                                {"year": year, "region_code": region, "as_of": as_of.isoformat(), "limit": 10000})
    kids = await children(conn, region)
    return {"year": year, "region_code": region, "as_of": as_of,
            "total": figures(schools),
            "items": [{"region_code": c["code"], "name": c["name"], "kind": c["kind"], **figures(schools, c["code"])}
                      for c in kids], "policies": policies(schools), "next_cursor": None}
