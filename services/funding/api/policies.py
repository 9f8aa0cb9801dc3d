"""HTTP routes: funding policy per jurisdiction, versioned by date.

PUT /v1/policies/{jurisdiction_code} publishes the version taking effect on `effective_from`
(province, city or county admins within their subtree; Jiyuan and the Hangzhou district set
their own). Shares arrive as JSON numbers or decimal strings; the body is parsed with
`parse_float=Decimal`, so 0.05 is the exact decimal 0.05 from the first byte — it is never a
float. GET /v1/policies/{jurisdiction_code}?as_of= (an extension) returns every version and the
one in force (default: today in Asia/Shanghai, shared/clock.py). The command:
handlers/publish_policy.py.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from services.funding.api.common import In
from services.funding.domain import policy as domain
from services.funding.domain.policy import FundingPolicy
from services.funding.handlers import publish_policy
from services.funding.titles import problem
from shared.aggregate import load_state
from shared.auth import Authenticated, require_role, require_within
from shared.clock import Today
from shared.inputs import IsoDate, Text
from shared.unit_of_work import Command

router = APIRouter(tags=["policies"])
POLICY_ADMINS = ("province_admin", "city_admin", "county_admin")


def _no_bool(value: object) -> object:
    if isinstance(value, bool | float):  # floats cannot arrive: see parse_float
        raise ValueError("a share is a decimal number or string, e.g. 0.05 or \"0.05\"")
    return value


Share = Annotated[Decimal, BeforeValidator(_no_bool), Field(gt=0, le=1, decimal_places=6)]
Rule = Literal["school_public_funds_share", "district_payroll_share", "pass_down_share"]


class PolicyCreate(In):
    effective_from: IsoDate
    school_public_funds_share: Share | None = None
    school_share_basis: Literal["public_funds_budget", "daily_public_funds"] = "public_funds_budget"
    district_payroll_share_min: Share | None = None
    district_payroll_share_max: Share | None = None  # the guide's upper end (003 §5.2), shown, never judged
    pass_down_min: Share | None = None
    sources: dict[Rule, Annotated[Text, Field(min_length=1, max_length=200)]] = Field(default_factory=dict)


class PolicyPublic(BaseModel):
    jurisdiction_code: str
    effective_from: date
    school_public_funds_share: str | None
    school_share_basis: str
    district_payroll_share_min: str | None
    district_payroll_share_max: str | None
    pass_down_min: str | None
    sources: dict[str, str]


async def policy_body(request: Request) -> PolicyCreate:
    try:
        raw = json.loads(await request.body(), parse_float=Decimal)
    except ValueError:
        raise RequestValidationError([{"loc": ("body",), "msg": "invalid JSON", "type": "json_invalid"}]) from None
    try:
        return PolicyCreate.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": PolicyCreate.model_json_schema()}}}}
Jurisdiction = Annotated[str, Path(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")]


@router.put("/v1/policies/{jurisdiction_code}", status_code=201, response_model=PolicyPublic, openapi_extra=_BODY,
            responses={200: {"model": PolicyPublic,
                             "description": "an existing version corrected, or an identical repeat"}},
            summary="Publish a jurisdiction's funding policy version (versioned by effective date)")
async def put_policy(jurisdiction_code: Jurisdiction, request: Request, cmd: Command) -> Response:
    require_role(cmd.principal, *POLICY_ADMINS)
    require_within(cmd.principal, jurisdiction_code)
    body = await policy_body(request)
    wanted = FundingPolicy(jurisdiction_code, **body.model_dump())
    return await cmd.run(lambda uow: publish_policy.handle(uow, wanted))


class PolicyVersions(BaseModel):
    jurisdiction_code: str
    as_of: date
    in_force: PolicyPublic | None
    versions: list[PolicyPublic]


@router.get("/v1/policies/{jurisdiction_code}", response_model=PolicyVersions,
            summary="A jurisdiction's policy versions and the one in force on as_of")
async def get_policy(jurisdiction_code: Jurisdiction, request: Request, principal: Authenticated, today: Today,
                     as_of: IsoDate | None = Query(None, description="default: today")) -> JSONResponse:
    # Policies are published rules: every signed-in caller may read them.
    async with request.app.state.pool.acquire() as conn:
        state, version = await load_state(conn, request.app.state.store, f"policy-{jurisdiction_code}",
                                          domain.evolve, domain.Versions())
    if version == 0:
        raise problem("policy_not_found", f"{jurisdiction_code} has published no funding policy", 404)
    day = as_of or today
    versions = sorted(state.values(), key=lambda p: p.effective_from)
    current = domain.in_force(versions, day)
    doc = PolicyVersions.model_validate({"jurisdiction_code": jurisdiction_code, "as_of": day,
                                         "in_force": domain.to_data(current) if current else None,
                                         "versions": [domain.to_data(p) for p in versions]})
    return JSONResponse(doc.model_dump(mode="json"), headers={"ETag": f'"{version}"'})
