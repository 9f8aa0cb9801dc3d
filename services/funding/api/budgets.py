"""HTTP routes: an org's budget for a year — PUT /v1/orgs/{code}/budgets/{year} (the org's own
administrator: "a school admin declares its own budget") and GET of the declared figures.

A PUT declares, a later PUT revises (a new BudgetDeclared; the history stays in the stream
`budget-<code>-<year>`); an identical PUT records nothing. Lowering the training budget below
what the org has already allocated or spent of its own money is refused (409
budget_below_committed, domain/accounts.rebudget). The command: handlers/declare_budget.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from services.funding.api.common import ADMINS, READERS, FenOrZero, In, OrgCode, Year
from services.funding.domain.ledger import Budget
from services.funding.handlers import declare_budget
from services.funding.titles import problem
from shared.auth import Authenticated, require_role, require_within
from shared.unit_of_work import Command
from shared.yearnames import BudgetYearNamed

router = APIRouter(tags=["budgets"])
CodeParam = Annotated[str, Path(min_length=6, max_length=12, pattern=r"^[0-9]+$")]
YearParam = Annotated[int, Path(ge=2000, le=2100)]


class BudgetCreate(In):
    public_funds_budget_fen: FenOrZero  # 公用经费预算总额 (or 日常公用经费, per the policy's basis)
    payroll_fen: FenOrZero  # 教职工工资总额
    training_budget_fen: FenOrZero  # the org's own training budget, allocations received excluded


class BudgetPublic(BudgetYearNamed):
    org_code: OrgCode
    year: Year = Field(description="预算年度 budget year")
    public_funds_budget_fen: int
    payroll_fen: int
    training_budget_fen: int
    version: int


@router.put("/v1/orgs/{code}/budgets/{year}", status_code=201, response_model=BudgetPublic,
            responses={200: {"model": BudgetPublic, "description": "revised, or an identical repeat"}},
            summary="Declare or revise an org's budget for a year (the org's own administrator)")
async def put_budget(code: CodeParam, year: YearParam, body: BudgetCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *ADMINS)
    require_within(cmd.principal, code)
    wanted = Budget(code, year, body.public_funds_budget_fen, body.payroll_fen, body.training_budget_fen)
    return await cmd.run(lambda uow: declare_budget.handle(uow, wanted))


@router.get("/v1/orgs/{code}/budgets/{year}", response_model=BudgetPublic, summary="An org's declared budget")
async def get_budget(code: CodeParam, year: YearParam, request: Request, principal: Authenticated) -> Response:
    require_role(principal, *READERS)
    require_within(principal, code)
    row = await request.app.state.pool.fetchrow(
        """SELECT org_code, year, public_funds_budget_fen, payroll_fen, training_budget_fen, budget_version AS version
           FROM funding_accounts WHERE org_code = $1 AND year = $2 AND budget_version > 0""", code, year)
    if row is None:
        raise problem("budget_not_found", f"{code} has declared no budget for {year}", 404)
    return JSONResponse(BudgetPublic(**dict(row)).model_dump(mode="json"), headers={"ETag": f'"{row["version"]}"'})
