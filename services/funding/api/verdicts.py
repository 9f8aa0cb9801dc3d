"""HTTP route: GET /v1/funding/orgs — funding's verdicts, published for other services (issue
14: reporting reads them instead of re-deriving the rules).

One item per funding account of `year` in the region, and per registered org of the region
without one, in org-code order: an org that never declared a budget (none at all, or one that
only received an allocation) is listed as `declared: false`, `status: "undeclared"` (未申报), its
verdicts not judged — never left out (issue 20). Each carries its figures, the display ratios, the verdict of every
rule of the policy in force for the org's nearest jurisdiction on `as_of` (default 31 December
of the year), that policy's identity with the policy stream's version, and the overall flag —
judged exactly as GET /v1/orgs/{code}/funding judges (api/readmodel.judged).

Who reads: `service`, everywhere (no region_code: every account); admins, auditors and finance
(财务) within their subtree (region_code defaults to their own org; outside it 403 out_of_scope).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.funding.api import readmodel
from services.funding.api.common import READERS, after, cursor_after
from services.funding.titles import problem
from shared.auth import Authenticated, require_role, require_within
from shared.inputs import IsoDate
from shared.paging import Page
from shared.yearnames import BudgetYearNamed

router = APIRouter(tags=["funding"])


class PolicyUsed(BaseModel):
    jurisdiction_code: str
    effective_from: date
    version: int  # the policy stream's version of the publication in force


class RuleVerdict(BaseModel):
    rule: str
    label: str
    ratio: str | None  # display ratio, 4 places half-even; null when not judged
    threshold_min: str
    threshold_max: str | None
    compliant: bool | None  # exact comparison; null when it cannot be judged
    spending_share: str | None = None  # a school's spent ÷ the same base: shown, never judged
    spending_label: str | None = None
    guide_max: str | None = None  # a district's payroll guide (003 §5.2): shown, never judged
    above_guide: bool | None = None
    notice: str | None = None
    source: str
    jurisdiction_code: str
    effective_from: date


class OrgVerdict(BaseModel):
    org_code: str
    name: str | None  # null if the org is unknown to the directory
    kind: str | None
    declared: bool
    public_funds_budget_fen: int
    payroll_fen: int
    training_budget_fen: int
    received_fen: int
    allocated_fen: int
    spent_fen: int
    set_aside_share: str | None  # training budget ÷ public-funds budget: a school's verdict
    funding_ratio: str | None  # spent ÷ public-funds budget: shown, never judged
    payroll_share: str | None
    pass_down_share: str | None
    policy: PolicyUsed | None
    rules: list[RuleVerdict]
    compliant: bool | None
    status: Literal["undeclared", "compliant", "not_compliant", "not_judged"]
    status_label: str  # 未申报 / 达标 / 未达标 / 未评判


class OrgVerdicts(Page[OrgVerdict], BudgetYearNamed):
    year: int = Field(description="预算年度 budget year")
    region_code: str | None


@router.get("/v1/funding/orgs", response_model=OrgVerdicts,
            summary="Funding verdicts of every account in a region for a year (published for other services)")
async def get_verdicts(
    request: Request, principal: Authenticated, year: Annotated[int, Query(ge=2000, le=2100)],
    region_code: Annotated[str | None, Query(min_length=6, max_length=12, pattern=r"^[0-9]+$")] = None,
    as_of: Annotated[IsoDate | None, Query(description="judge under the policy in force on this day; "
                                                       "default 31 December of the year")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    require_role(principal, *READERS)
    region = region_code if region_code is not None or principal.role == "service" else principal.org
    if principal.role != "service":
        if region is None:
            raise problem("out_of_scope", "a reader without an org reads no region", 403)
        require_within(principal, region)
    async with request.app.state.pool.acquire() as conn:
        items, more = await readmodel.verdicts(conn, year, region, as_of, after(cursor), limit)
    return {"year": year, "region_code": region, "items": items,
            "next_cursor": cursor_after(items[-1]["org_code"]) if more else None}
