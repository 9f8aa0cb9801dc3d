"""GET /v1/reports/rates, /regions and /notices: selection, check-in and completion figures.

Definitions (services/reporting/domain/rates.py): selection rate 选送率 = nominated ÷ quota,
check-in rate 报到率 = checked_in ÷ nominated, completion rate 结业率 = completed ÷ checked_in,
satisfaction rate 满意率 = satisfied ÷ evaluations. A replacement (换人) keeps its place and counts
once; a withdrawal frees its place and counts only as `withdrawn`. Rates are decimal strings with
4 places (ROUND_HALF_EVEN); **a rate whose denominator is 0 is null** (undefined, never 0 and
never NaN). Cancelled projects are left out. Regions roll up by GB/T 2260 subtree: a city's
figures are its counties' and schools' (and its own) added up.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from services.reporting import queries, report
from services.reporting.api.common import ADMIN_READERS, decode_cursor, encode_cursor, problem, scope_of
from services.reporting.api.models import Notices, QuotaSuggestions, Rates, Regions
from services.reporting.domain.rates import NOTICE_RATES
from shared.auth import Authenticated

router = APIRouter(tags=["reports"])
Level = Literal["national", "provincial", "municipal", "county", "school"]
Group = Literal["project", "region", "host", "level", "year"]
Year = Annotated[int | None, Query(ge=2000, le=2100, description="项目年度 project year (calendar year)")]
Code = Annotated[str | None, Query(min_length=6, max_length=12, pattern=r"^\d{6,12}$")]
RATES_DOC = __doc__


def rates_query(principal, year, region_code, level, project_id, group_by) -> report.RatesQuery:
    scope = scope_of(principal)
    return report.RatesQuery(year=year, region_code=scope.region_or_own(region_code), level=level,
                             project_id=project_id, group_by=group_by, host_id=scope.host)


@router.get("/v1/reports/rates", summary="Quota, nominated, checked in, completed, failed and the rates",
            description=RATES_DOC, response_model=Rates)
async def get_rates(request: Request, principal: Authenticated, year: Year = None, region_code: Code = None,
                    level: Level | None = None, project_id: uuid.UUID | None = None, group_by: Group = "project",
                    limit: Annotated[int, Query(ge=1, le=1000)] = 200, cursor: str | None = None) -> Any:
    q = rates_query(principal, year, region_code, level, project_id, group_by)
    async with request.app.state.pool.acquire() as conn:
        doc = await report.rates(conn, q, decode_cursor(cursor), limit)
    return doc | {"next_cursor": encode_cursor(doc["next_cursor"])}


@router.get("/v1/reports/regions", summary="The same figures per child region", description=RATES_DOC,
            response_model=Regions)
async def get_regions(request: Request, principal: Authenticated, parent_code: Code = None, year: Year = None,
                      level: Level | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 500,
                      cursor: str | None = None) -> Any:
    scope = scope_of(principal)
    asked, parent_code = parent_code, scope.region_or_own(parent_code)
    async with request.app.state.pool.acquire() as conn:
        if asked is not None and await queries.org(conn, asked) is None:  # the reader's own org may be pending
            raise problem("region_not_found", f"no org {asked}", 404)
        f = queries.Filter(year=year, level=level, region=parent_code, host_id=scope.host)
        doc = await report.regions(conn, f, decode_cursor(cursor), limit)
    return doc | {"next_cursor": encode_cursor(doc["next_cursor"])}


@router.get("/v1/reports/notices", summary="Cities and counties below a rate (通报)", response_model=Notices,
            description="Regions (cities and counties in the reader's subtree, or under `parent_code`) whose "
                        "selection, check-in or completion rate for the year is strictly below `min_rate` "
                        "(004 §4.2). An undefined rate (zero denominator) names no region. " + RATES_DOC)
async def get_notices(request: Request, principal: Authenticated, year: Annotated[int, Query(ge=2000, le=2100)],
                      min_rate: Annotated[Decimal, Query(ge=0, le=1, max_digits=6, decimal_places=4)],
                      rate: Annotated[list[Literal["selection", "check_in", "completion"]] | None, Query()] = None,
                      parent_code: Code = None, level: Level | None = None) -> Any:
    scope = scope_of(principal, "service", *ADMIN_READERS)
    which = tuple(f"{r}_rate" for r in rate) if rate else NOTICE_RATES
    f = queries.Filter(year=year, level=level, region=scope.region_or_own(parent_code))
    async with request.app.state.pool.acquire() as conn:
        return await report.notices(conn, f, min_rate, tuple(dict.fromkeys(which)))


@router.get("/v1/reports/quota-suggestions", summary="Next year's places per region, tilted by selection quality "
            "(指标调整建议, 004 §4.1)", response_model=QuotaSuggestions,
            description="`places` for next year shared among the child regions of `parent_code` (default: the "
                        "reader's own region) in proportion to this year's quota times a factor from each "
                        "region's selection, check-in and completion rates. The formula and its numbers are "
                        "reporting policy data, returned under `formula`; a suggestion, not an allocation. "
                        + RATES_DOC)
async def get_quota_suggestions(request: Request, principal: Authenticated,
                                year: Annotated[int, Query(ge=2000, le=2100)],
                                places: Annotated[int, Query(ge=0, le=10_000_000)],
                                parent_code: Code = None, level: Level | None = None) -> Any:
    scope = scope_of(principal, "service", *ADMIN_READERS)
    asked, parent = parent_code, scope.region_or_own(parent_code)
    async with request.app.state.pool.acquire() as conn:
        if asked is not None and await queries.org(conn, asked) is None:
            raise problem("region_not_found", f"no org {asked}", 404)
        return await report.quota_suggestions(conn, queries.Filter(year=year, level=level, region=parent), places)
