"""Declare or revise an org's budget for a year (PUT /v1/orgs/{code}/budgets/{year}), by the
org's own administrator. Stream `budget-<code>-<year>`; its state and version are the guard
row's budget columns (services/funding/guards.py writes them from the same events)."""

from __future__ import annotations

from services.funding.domain.ledger import Budget, decide_declare_budget, require_own_admin
from services.funding.handlers.facts import load, lock_stream
from shared.calendar import year_named
from shared.unit_of_work import Reply, UnitOfWork


async def handle(uow: UnitOfWork, wanted: Budget) -> Reply:
    code, year = wanted.org_code, wanted.year
    stream_id = f"budget-{code}-{year}"
    await lock_stream(uow.conn, stream_id)
    facts = await load(uow.conn, year, orgs=[code], lock=[code])
    require_own_admin(uow.principal.role, uow.principal.org, facts.org(code))
    state, version = facts.budget(code)
    expected = uow.expect(stream_id, version)
    events = decide_declare_budget(state, wanted, facts.account(code))
    uow.record(stream_id, expected, events)
    now = version + len(events)
    body = {"org_code": code, "year": year, "public_funds_budget_fen": wanted.public_funds_budget_fen,
            "payroll_fen": wanted.payroll_fen, "training_budget_fen": wanted.training_budget_fen, "version": now,
            **year_named("budget_year", year)}  # as the GET answers it (api/budgets.py BudgetPublic)
    return Reply(201 if version == 0 else 200, body,
                 {"ETag": f'"{now}"', "Location": f"/v1/orgs/{code}/budgets/{year}"})
