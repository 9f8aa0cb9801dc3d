"""HTTP routes: allocations (下拨) down the org tree, earmarked disbursements (专款专用), and
their reversals — corrections are new entries, never edits.

- POST /v1/allocations {from_code, to_code, year, amount_fen}: the allocating org's admin, to
  an org below it (a county to its schools). Stream `allocation-<id>`.
- POST /v1/disbursements {org_code, year, project_id, host_id, amount_fen, purpose}: the org's
  admin. project_id and host_id are optional ("for a project or purpose"); purpose is required.
  Refused with 409 insufficient_funds when it would exceed what the org has for training
  (services/funding/domain/ledger.py). Stream `disbursement-<id>`.
- Extension: POST /v1/allocations/{id}/reverse and /v1/disbursements/{id}/reverse {reason}
  record FundsReversed (the admin who could make the entry); a second reversal is 409
  already_reversed; an allocation the receiver has already committed is 409
  allocation_committed. GET /v1/allocations/{id}, /v1/disbursements/{id} read an entry.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from services.funding.api.common import (
    ADMINS,
    READERS,
    Fen,
    In,
    OrgCode,
    StrictYear,
    ancestors,
    expected_version,
    load_org,
    lock_stream,
    problem,
    refusals,
    require_org_admin,
)
from services.funding.domain.ledger import (
    Entry,
    ProjectFacts,
    decide_allocate,
    decide_disburse,
    decide_reverse,
    evolve_entry,
)
from services.funding.projector import record
from shared.aggregate import load_state
from shared.auth import Authenticated, can_read, require_role, require_within
from shared.commands import Command
from shared.eventstore import NO_STREAM
from shared.inputs import Note
from shared.inputs import Text as OneLine

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


@router.post("/v1/allocations", status_code=201, summary="Allocate training funds to an org below (下拨)")
async def allocate(body: AllocationCreate, cmd: Command):
    require_role(cmd.principal, *ADMINS)
    require_within(cmd.principal, body.from_code)
    require_within(cmd.principal, body.to_code)
    allocation_id = str(uuid.uuid4())
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        source = await load_org(tx.conn, body.from_code)
        require_org_admin(cmd.principal, source)
        target = await load_org(tx.conn, body.to_code)
        with refusals():
            events = decide_allocate(allocation_id, source, target, await ancestors(tx.conn, target.code),
                                     body.year, body.amount_fen)
            await record(tx.conn, cmd.store, f"allocation-{allocation_id}", NO_STREAM, events, tx.metadata)
        return await tx.respond(201, events[0][1], headers={"ETag": '"1"',
                                                            "Location": f"/v1/allocations/{allocation_id}"})


@router.post("/v1/disbursements", status_code=201, summary="Disburse earmarked training funds (专款专用)")
async def disburse(body: DisbursementCreate, cmd: Command):
    require_role(cmd.principal, *ADMINS)
    require_within(cmd.principal, body.org_code)
    disbursement_id = str(uuid.uuid4())
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        org = await load_org(tx.conn, body.org_code)
        require_org_admin(cmd.principal, org)
        project = None
        if body.project_id is not None:
            row = await tx.conn.fetchrow("SELECT id, year, host_id FROM projects WHERE id = $1", body.project_id)
            if row is None:
                raise problem("project_not_found", f"no project {body.project_id}", 404)
            project = ProjectFacts(str(row["id"]), row["year"], str(row["host_id"]) if row["host_id"] else None)
        if body.host_id is not None and not await tx.conn.fetchval(
                "SELECT true FROM hosts WHERE id = $1", body.host_id):
            raise problem("host_not_found", f"no host {body.host_id}", 404)
        with refusals():
            events = decide_disburse(disbursement_id, org, body.year, body.amount_fen, body.purpose, project,
                                     str(body.host_id) if body.host_id else None)
            await record(tx.conn, cmd.store, f"disbursement-{disbursement_id}", NO_STREAM, events, tx.metadata)
        return await tx.respond(201, events[0][1], headers={"ETag": '"1"',
                                                            "Location": f"/v1/disbursements/{disbursement_id}"})


def _payer(entry: Entry) -> str:
    return entry.data.get("org_code") or entry.data["from_code"]


async def _reverse(kind: str, entry_id: uuid.UUID, body: ReversalCreate, cmd: Command):
    require_role(cmd.principal, *ADMINS)
    singular = kind[:-1]
    stream_id = f"{singular}-{entry_id}"
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        await lock_stream(tx.conn, stream_id)
        state, version = await load_state(tx.conn, cmd.store, stream_id, evolve_entry, None)
        if state is None:
            raise problem(f"{singular}_not_found", f"no {singular} {entry_id}", 404)
        require_within(cmd.principal, _payer(state))
        require_org_admin(cmd.principal, await load_org(tx.conn, _payer(state)))
        expected = expected_version(cmd, stream_id, version)
        with refusals():
            events = decide_reverse(state, str(uuid.uuid4()), body.reason)
            await record(tx.conn, cmd.store, stream_id, expected, events, tx.metadata)
        return await tx.respond(200, events[0][1], headers={"ETag": f'"{version + 1}"'})


@router.post("/v1/allocations/{allocation_id}/reverse", summary="Reverse an allocation (冲销; never an edit)")
async def reverse_allocation(allocation_id: uuid.UUID, body: ReversalCreate, cmd: Command):
    return await _reverse("allocations", allocation_id, body, cmd)


@router.post("/v1/disbursements/{disbursement_id}/reverse", summary="Reverse a disbursement (冲销; never an edit)")
async def reverse_disbursement(disbursement_id: uuid.UUID, body: ReversalCreate, cmd: Command):
    return await _reverse("disbursements", disbursement_id, body, cmd)


async def _get(kind: str, entry_id: uuid.UUID, request: Request, principal: Authenticated) -> JSONResponse:
    require_role(principal, *READERS)
    singular = kind[:-1]
    async with request.app.state.pool.acquire() as conn:
        state, version = await load_state(conn, request.app.state.store, f"{singular}-{entry_id}", evolve_entry, None)
    # Readable by whoever reads the paying org or (for an allocation) the receiving one.
    if state is None or not (can_read(principal, _payer(state))
                             or can_read(principal, state.data.get("to_code") or _payer(state))):
        raise problem(f"{singular}_not_found", f"no {singular} {entry_id}", 404)
    return JSONResponse({**state.data, "reversed": state.reversed, "version": version},
                        headers={"ETag": f'"{version}"'})


@router.get("/v1/allocations/{allocation_id}", summary="An allocation")
async def get_allocation(allocation_id: uuid.UUID, request: Request, principal: Authenticated):
    return await _get("allocations", allocation_id, request, principal)


@router.get("/v1/disbursements/{disbursement_id}", summary="A disbursement")
async def get_disbursement(disbursement_id: uuid.UUID, request: Request, principal: Authenticated):
    return await _get("disbursements", disbursement_id, request, principal)
