"""GET /v1/reports/funding and /v1/reports/credits — funding and credit compliance carried from
the funding and credits services' events, judged by those services' own rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.reporting import report_credits, report_funding
from services.reporting.api.common import ADMIN_READERS, Today, decode_cursor, encode_cursor, scope_of
from services.reporting.api.rates import Code
from services.reporting.domain import credits as credits_doc
from services.reporting.domain import funding as funding_doc
from shared.auth import Authenticated
from shared.inputs import IsoDate

router = APIRouter(tags=["reports"])
Year = Annotated[int, Query(ge=2000, le=2100)]


@router.get("/v1/reports/funding", summary="Funding ratios and compliance per school and county",
            description=(funding_doc.__doc__ or "") + """
Items: every school and county (and any other org) with an account for the year in the reader's
subtree, with budget, passed-down and spent fen, the ratios (4 places, ROUND_HALF_EVEN, null over
a zero base) and the verdict of each rule. `summary`: per kind, compliant / not compliant / not
judged and the compliance rate = compliant ÷ judged (null when none was judged).""")
async def get_funding(request: Request, principal: Authenticated, year: Year, region_code: Code = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 200, cursor: str | None = None) -> dict:
    scope = scope_of(principal, "service", *ADMIN_READERS)
    async with request.app.state.pool.acquire() as conn:
        doc = await report_funding.funding(conn, year, scope.region_or_own(region_code), decode_cursor(cursor), limit)
    return doc | {"next_cursor": encode_cursor(doc["next_cursor"])}


@router.get("/v1/reports/credits", summary="Teachers meeting the annual credit-hour target, per child region",
            description=(credits_doc.__doc__ or "") + """
`year` is the school year (2023 = 2023学年). `total` covers the region (the reader's org by
default); `items` each child region of it. `hours` is the sum of active hours (one decimal).""")
async def get_credits(request: Request, principal: Authenticated, today: Today, year: Year,
                      region_code: Code = None, as_of: IsoDate | None = None) -> dict:
    scope = scope_of(principal, "service", *ADMIN_READERS)
    async with request.app.state.pool.acquire() as conn:
        return await report_credits.credits(conn, year, scope.region_or_own(region_code), as_of or today)
