"""HTTP routes: allocations (下拨) down the org tree, earmarked disbursements (专款专用), and
their reversals — corrections are new entries, never edits.

- POST /v1/allocations {from_code, to_code, year, amount_fen}: the allocating org's admin, to
  an org below it (a county to its schools). handlers/allocate.py.
- POST /v1/disbursements {org_code, year, project_id, host_id, amount_fen, purpose}: the org's
  admin. project_id and host_id are optional ("for a project or purpose"); purpose is required.
  Refused with 409 insufficient_funds when it would exceed what the org has for training
  (domain/accounts.py). handlers/disburse.py.
- Extension: POST /v1/allocations/{id}/reverse and /v1/disbursements/{id}/reverse {reason}
  record FundsReversed (the admin who could make the entry); a second reversal is 409
  already_reversed; an allocation the receiver has already committed is 409
  allocation_committed. handlers/reverse.py. GET /v1/allocations/{id}, /v1/disbursements/{id}
  read an entry.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from services.funding.api.common import ADMINS, READERS, Fen, In, OrgCode, StrictYear
from services.funding.api.models import Allocated, AllocationView, Disbursed, DisbursementView, Reversed
from services.funding.domain.ledger import evolve_entry
from services.funding.handlers import allocate as allocate_handler
from services.funding.handlers import disburse as disburse_handler
from services.funding.handlers import reverse
from services.funding.titles import problem
from shared.aggregate import load_state
from shared.auth import Authenticated, can_read, require_role, require_within
from shared.inputs import Note
from shared.inputs import Text as OneLine
from shared.unit_of_work import Command

router = APIRouter(tags=["ledger"])
Text = Annotated[OneLine, Field(min_length=1, max_length=200)]


class AllocationCreate(In):
    from_code: OrgCode
    to_code: OrgCode
    year: StrictYear
    amount_fen: Fen


class DisbursementCreate(In):
    org_code: OrgCode
    year: StrictYear
    project_id: uuid.UUID | None = None
    host_id: uuid.UUID | None = None
    amount_fen: Fen
    purpose: Text  # what the money pays for, e.g. 培训课时费, 教材资料费


class ReversalCreate(In):
    reason: Annotated[Note, Field(min_length=1, max_length=500)]


@router.post("/v1/allocations", status_code=201, summary="Allocate training funds to an org below (下拨)",
             response_model=Allocated)
async def allocate(body: AllocationCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *ADMINS)
    require_within(cmd.principal, body.from_code)
    require_within(cmd.principal, body.to_code)
    return await cmd.run(lambda uow: allocate_handler.handle(uow, body.from_code, body.to_code, body.year,
                                                             body.amount_fen))


@router.post("/v1/disbursements", status_code=201, summary="Disburse earmarked training funds (专款专用)",
             response_model=Disbursed)
async def disburse(body: DisbursementCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *ADMINS)
    require_within(cmd.principal, body.org_code)
    return await cmd.run(lambda uow: disburse_handler.handle(uow, body.org_code, body.year, body.amount_fen,
                                                             body.purpose, body.project_id, body.host_id))


@router.post("/v1/allocations/{allocation_id}/reverse", summary="Reverse an allocation (冲销; never an edit)",
             response_model=Reversed)
async def reverse_allocation(allocation_id: uuid.UUID, body: ReversalCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *ADMINS)
    return await cmd.run(lambda uow: reverse.handle(uow, "allocation", allocation_id, body.reason))


@router.post("/v1/disbursements/{disbursement_id}/reverse",
             summary="Reverse a disbursement (冲销; never an edit)", response_model=Reversed)
async def reverse_disbursement(disbursement_id: uuid.UUID, body: ReversalCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *ADMINS)
    return await cmd.run(lambda uow: reverse.handle(uow, "disbursement", disbursement_id, body.reason))


async def _get(kind: str, entry_id: uuid.UUID, request: Request, principal: Authenticated) -> JSONResponse:
    require_role(principal, *READERS)
    async with request.app.state.pool.acquire() as conn:
        state, version = await load_state(conn, request.app.state.store, f"{kind}-{entry_id}", evolve_entry, None)
    # Readable by whoever reads the paying org or (for an allocation) the receiving one.
    if state is None or not (can_read(principal, state.payer)
                             or can_read(principal, state.data.get("to_code") or state.payer)):
        raise problem(reverse.NOT_FOUND[kind], f"no {kind} {entry_id}", 404)
    return JSONResponse({**state.data, "reversed": state.reversed, "version": version},
                        headers={"ETag": f'"{version}"'})


@router.get("/v1/allocations/{allocation_id}", summary="An allocation", response_model=AllocationView)
async def get_allocation(allocation_id: uuid.UUID, request: Request, principal: Authenticated) -> JSONResponse:
    return await _get("allocation", allocation_id, request, principal)


@router.get("/v1/disbursements/{disbursement_id}", summary="A disbursement", response_model=DisbursementView)
async def get_disbursement(disbursement_id: uuid.UUID, request: Request, principal: Authenticated) -> JSONResponse:
    return await _get("disbursement", disbursement_id, request, principal)
