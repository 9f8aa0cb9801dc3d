"""HTTP routes: compliance with the annual target, judged once (domain/compliance.py):

- GET /v1/orgs/{code}/compliance?year=: an org's teachers, those meeting the target, the share,
  rolled up from schools to county, city and province, with the figures of each direct child;
- GET /v1/compliance/schools?year=&region_code=&as_of=: the verdict of every school, each with
  the policy version it was judged by — published for other services (reporting), which use it
  instead of a copy of the rules (issue 14).

Hours come from `teacher_years` (active entries, kept by ComplianceProjection), so both follow
a revocation or an approval shortly after it is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from services.credits.access import READERS
from services.credits.api.common import decode_cursor, encode_cursor
from services.credits.api.models import OrgCompliance, PolicyUsed
from services.credits.domain import compliance as compliance_rules
from services.credits.domain.compliance import Counts, Standard, roll_up, school_standard
from services.credits.domain.policy import from_tenths, num
from services.credits.queries import compliance as counted
from services.credits.queries.policies import chains_and_book
from services.credits.titles import problem
from shared.auth import Authenticated, Principal, can_read, require_role
from shared.calendar import school_year_label
from shared.clock import Today
from shared.inputs import IsoDate
from shared.orgs import kind_of
from shared.paging import Page
from shared.yearnames import SchoolYearNamed

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


@router.get("/v1/orgs/{code}/compliance", summary="Teachers meeting the annual target, rolled up",
            response_model=OrgCompliance)
async def get_compliance(request: Request, principal: Authenticated, today: Today, year: Year,
                         code: str = Path(min_length=6, max_length=12, pattern=r"^[0-9]+$")) -> Any:
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


class SchoolVerdict(BaseModel):
    school_code: str
    teachers: int = Field(description="registered, hired by the school year's last day or with no hiring date")
    meeting: int = Field(description="a target exists, the year's active hours reach it, every category minimum too")
    without_policy: int = Field(description="no policy up the school's chain")
    with_hours: int = Field(description="more than zero active hours in the year")
    hours_tenths: int = Field(description="the counted teachers' active hours of the year, in tenths of an hour")
    policy: PolicyUsed | None


class SchoolVerdicts(Page[SchoolVerdict], SchoolYearNamed):
    year: int = Field(description="the school year (学年) judged, 2023 = 2023学年 (from 1 September)")
    as_of: date
    region_code: str | None


def _region(principal: Principal, region_code: str | None) -> str | None:
    """Service accounts see everything; admins and auditors their own subtree (default: their org)."""
    if principal.role == "service":
        return region_code
    region = region_code or principal.org
    if region is None or not can_read(principal, region):
        raise problem("out_of_scope", f"region {region} is outside this principal's jurisdiction", 403)
    return region


def _verdict(school: str, standard: Standard, c: Counts) -> SchoolVerdict:
    p = standard.policy
    return SchoolVerdict(
        school_code=school, teachers=c.teachers, meeting=c.meeting, without_policy=c.without_policy,
        with_hours=c.with_hours, hours_tenths=c.hours_tenths,
        policy=None if p is None else PolicyUsed(jurisdiction_code=p.jurisdiction_code, version=p.version,
                                                 effective_from=p.effective_from))


@router.get("/v1/compliance/schools", response_model=SchoolVerdicts,
            summary="Each school's compliance verdict with the policy version used (for other services)",
            description=(compliance_rules.__doc__ or "") + """
Service accounts read every school (or `region_code`'s); province, city, county and school admins
and auditors their own subtree (`region_code` defaults to their org). `next_cursor` continues
after the last school of the page; pass it back unchanged.""")
async def school_verdicts(
    request: Request, principal: Authenticated, today: Today, year: Year,
    region_code: Annotated[str | None, Query(min_length=6, max_length=12, pattern=r"^[0-9]+$")] = None,
    as_of: Annotated[IsoDate | None, Query(description="default: today (Asia/Shanghai)")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 5000,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SchoolVerdicts:
    require_role(principal, *READERS)
    region = _region(principal, region_code)
    on = as_of or today
    after = decode_cursor(cursor, 1) or [""]
    async with request.app.state.pool.acquire() as conn:
        page = await counted.schools(conn, region, after[0], limit + 1)
        schools = page[:limit]
        _, standards, per_school = await _judged(conn, schools, year, on)
    return SchoolVerdicts(
        year=year, as_of=on, region_code=region,
        items=[_verdict(s, standards[s], per_school.get(s, Counts())) for s in schools],
        next_cursor=encode_cursor(schools[-1]) if len(page) > limit else None)
