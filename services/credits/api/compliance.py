"""HTTP route: compliance with the annual target, judged once (domain/compliance.py):
GET /v1/orgs/{code}/compliance?year= — an org's teachers, those meeting the target, the share,
rolled up from schools to county, city and province, with the figures of each direct child.

Hours come from `teacher_years` (active entries, kept by ComplianceProjection), so both follow
a revocation or an approval shortly after it is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Query, Request

from services.credits.access import READERS
from services.credits.domain.compliance import Counts, Standard, roll_up, school_standard
from services.credits.domain.policy import from_tenths, num
from services.credits.queries import compliance as counted
from services.credits.queries.policies import chains_and_book
from services.credits.titles import problem
from shared.auth import Authenticated, can_read, require_role
from shared.calendar import school_year_label
from shared.clock import Today
from shared.orgs import kind_of

router = APIRouter(tags=["compliance"])
Year = Annotated[int, Query(ge=2000, le=2100, description="school year, e.g. 2023 = 2023学年")]


async def _judged(conn: asyncpg.Connection, schools: Sequence[str], year: int, as_of: date,
                  ) -> tuple[dict[str, list[str]], dict[str, Standard], dict[str, Counts]]:
    """Each school's way up the tree, its standard, and its counted teachers."""
    chains, book = await chains_and_book(conn, schools)
    standards = {s: school_standard(chains[s], book, year, as_of) for s in schools}
    return chains, standards, await counted.counts(conn, standards, year)


def _figures(c: Counts) -> dict[str, Any]:
    return {"teachers": c.teachers, "meeting": c.meeting, "share": num(c.share), "without_policy": c.without_policy,
            "with_hours": c.with_hours, "hours": num(from_tenths(c.hours_tenths))}


@router.get("/v1/orgs/{code}/compliance", summary="Teachers meeting the annual target, rolled up")
async def get_compliance(request: Request, principal: Authenticated, today: Today, year: Year,
                         code: str = Path(min_length=6, max_length=12, pattern=r"^[0-9]+$")) -> dict[str, Any]:
    require_role(principal, *READERS)
    if not can_read(principal, code):
        raise problem("out_of_scope", f"org {code} is outside this principal's jurisdiction", 403)
    async with request.app.state.pool.acquire() as conn:
        schools = await counted.schools(conn, code)
        chains, _, per_school = await _judged(conn, schools, year, today)
    total, children = roll_up(per_school, chains, code)
    return {
        "org_code": code, "kind": kind_of(code), "year": year, "label": school_year_label(year),
        "as_of": today.isoformat(), **_figures(total),
        "children": [{"code": c, "kind": kind_of(c), **_figures(v)} for c, v in children.items()],
    }
