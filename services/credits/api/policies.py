"""HTTP routes: credit-hour policies per jurisdiction, versioned by effective date.

PUT publishes a version (201 for a new `effective_from`, 200 for a correction of an existing one,
200 and no event for an identical repeat), with its `category_map`: each project hour category →
one of its credit categories (awards are made in the mapped category of the version in force on
the completion day; a map naming a category the version does not define is 422
category_map_unknown_category); province, city and county admins publish for their
own jurisdiction or one inside it. GET returns the version in force on `as_of` (any date, default today) for
the code — walking up the org tree when the code sets no policy of its own ("the nearest policy
wins"), including versions published later with a retroactive effective date. (Transcripts'
`as_of`, by contrast, only sees versions published by then.) Any authenticated caller reads:
policies are public rules.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.credits.api.models import PolicyInForce
from services.credits.domain.policy import Category, Policy
from services.credits.handlers import publish_policy
from services.credits.queries.policies import chain_and_book
from services.credits.titles import problem
from services.credits.views import policy_json
from shared.auth import Authenticated, require_role, require_within
from shared.clock import Today
from shared.inputs import IsoDate, Text
from shared.unit_of_work import Command

router = APIRouter(tags=["policies"])
Hours = Annotated[Decimal, Field(gt=0, le=2000, decimal_places=1, allow_inf_nan=False)]
Code = Annotated[str, Path(min_length=6, max_length=12, pattern=r"^[0-9]+$")]
# A project's hour category as enrollment records it (one line, 1–32 characters).
HourCategory = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[^\x00-\x1f\x7f]+$")]


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_\-]+$")
    name: Text = Field(min_length=1, max_length=50)
    min_hours: Hours | None = None


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective_from: IsoDate
    hours_per_credit: Hours | None = None
    annual_hours: Hours | None = None
    cycle_years: int = Field(ge=1, le=10)
    cycle_start_year: int = Field(ge=1990, le=2100)
    cycle_hours: Hours | None = None
    induction_hours: Hours | None = None
    induction_years: int = Field(1, ge=1, le=5)
    categories: list[CategoryIn] = Field(default_factory=list, max_length=20)
    category_map: dict[HourCategory, HourCategory] = Field(
        default_factory=dict, max_length=50,
        description="project hour category (what enrollment sends, e.g. centralized, online, blended, school_based, "
                    "workshop) → one of `categories`' codes; awards of an unmapped hour category keep it as their "
                    "category (422 category_map_unknown_category for a code the policy does not define)")
    school_year_start: str = Field("09-01", pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
    credit_decimals: int = Field(1, ge=0, le=2)

    def to_policy(self, code: str) -> Policy:
        month, day = (int(x) for x in self.school_year_start.split("-"))
        return Policy(
            jurisdiction_code=code, effective_from=self.effective_from, hours_per_credit=self.hours_per_credit,
            annual_hours=self.annual_hours, cycle_years=self.cycle_years, cycle_start_year=self.cycle_start_year,
            cycle_hours=self.cycle_hours, induction_hours=self.induction_hours, induction_years=self.induction_years,
            categories=tuple(Category(c.code, c.name, c.min_hours) for c in self.categories),
            category_map=tuple(sorted(self.category_map.items())),
            school_year_start=(month, day), credit_decimals=self.credit_decimals)


@router.put("/v1/policies/{jurisdiction_code}", status_code=201, summary="Publish a policy version (学分政策)",
            response_model=PolicyInForce,
            responses={200: {"description": "an existing version corrected, or an identical repeat (no event)",
                             "model": PolicyInForce}})
async def put_policy(jurisdiction_code: Code, body: PolicyIn, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "province_admin", "city_admin", "county_admin")
    require_within(cmd.principal, jurisdiction_code)
    wanted = body.to_policy(jurisdiction_code)
    return await cmd.run(lambda uow: publish_policy.handle(uow, wanted, today))


@router.get("/v1/policies/{jurisdiction_code}", summary="The policy in force on a date", response_model=PolicyInForce)
async def get_policy(jurisdiction_code: Code, request: Request, principal: Authenticated, today: Today,
                     as_of: IsoDate | None = Query(None, description="default: today (Asia/Shanghai)")) -> JSONResponse:
    on = as_of or today
    async with request.app.state.pool.acquire() as conn:
        chain, book = await chain_and_book(conn, jurisdiction_code)
    p = book.for_chain(chain, on)
    if p is None:
        raise problem("policy_not_found", f"no policy in force for {jurisdiction_code} on {on}", 404)
    # The ETag is the jurisdiction's stream version (what a PUT's If-Match names).
    head = max(v.version for v in book.versions(p.jurisdiction_code))
    versions = [{"effective_from": v.effective_from.isoformat(),
                 "published_on": v.published_on.isoformat() if v.published_on else None}
                for v in book.versions(p.jurisdiction_code)]
    return JSONResponse(policy_json(p, jurisdiction_code, head, as_of=on.isoformat(), versions=versions),
                        headers={"ETag": f'"{head}"'})
