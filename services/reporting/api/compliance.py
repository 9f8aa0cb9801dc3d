"""GET /v1/reports/funding and /v1/reports/credits — funding and credit compliance as funding and
credits judge it: reporting adds up and pages their published verdicts, and knows no rule."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.reporting import report_credits, report_funding
from services.reporting.api.common import ADMIN_READERS, decode_cursor, encode_cursor, scope_of
from services.reporting.api.models import CreditsReport, FundingReport
from services.reporting.api.rates import Code
from shared.auth import Authenticated
from shared.clock import Today
from shared.inputs import IsoDate

router = APIRouter(tags=["reports"])
Year = Annotated[int, Query(ge=2000, le=2100, description="学年 school year, e.g. 2023 = 2023学年 (from 1 September)")]


@router.get("/v1/reports/funding", summary="Funding ratios and compliance per school and county",
            response_model=FundingReport,
            description=(report_funding.__doc__ or "") + """
Items: every registered org of the reader's subtree, as funding last assessed it: budget,
passed-down and spent fen, the ratios (4 places, ROUND_HALF_EVEN, null over a zero base), the
verdict of each rule and the policy version used, and `status` (undeclared 未申报 / compliant 达标 /
not_compliant 未达标 / not_judged 未评判). `summary`: per kind, those four counts and the compliance
rate = compliant ÷ judged (null when none was judged). Readers: admins, auditors and finance (财务)
within their subtree, and `service`.""")
async def get_funding(request: Request, principal: Authenticated, year: Year, region_code: Code = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 200, cursor: str | None = None) -> Any:
    scope = scope_of(principal, "service", "finance", *ADMIN_READERS)  # finance (财务): this report only
    async with request.app.state.pool.acquire() as conn:
        doc = await report_funding.funding(conn, year, scope.region_or_own(region_code), decode_cursor(cursor), limit)
    return doc | {"next_cursor": encode_cursor(doc["next_cursor"])}


@router.get("/v1/reports/credits", summary="Teachers meeting the annual credit-hour target, per child region",
            response_model=CreditsReport,
            description=(report_credits.__doc__ or "") + """
`year` is the school year (2023 = 2023学年); `as_of` (default today) is passed to credits, whose
policy in force then decides. `total` covers the region (the reader's org by default); `items`
each child region of it; `policies` the policy versions credits judged by. `hours` is the sum of
active hours (one decimal). 503 `upstream_unavailable` when credits cannot answer.""")
async def get_credits(request: Request, principal: Authenticated, today: Today, year: Year,
                      region_code: Code = None, as_of: IsoDate | None = None) -> Any:
    scope = scope_of(principal, "service", *ADMIN_READERS)
    async with request.app.state.pool.acquire() as conn:
        return await report_credits.credits(request.app, conn, year, scope.region_or_own(region_code), as_of or today)
