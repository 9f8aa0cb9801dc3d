"""HTTP route: POST /v1/settlements {project_id, county_code, fee_per_participant_fen} — settle
a project's per-participant fee with its host for one county (001 §6.7), by the county's admin.

The participants are counted from the check-ins this service has projected from the enrollment
stream (handlers/settle.py says who counts). The amount is charged to the county's training
funds for the project's year (409 insufficient_funds when it has not enough) and recorded as
SettlementCalculated with its derivation. A recomputation pays only the difference: 201 with
the new event, or 200 and nothing recorded when nothing changed. Concurrent settlements of one
(project, county) serialise on the settlement's stream.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from services.funding.api.common import READERS, Fen, In, OrgCode
from services.funding.api.models import Settled, Settlements
from services.funding.handlers import settle as settle_handler
from shared.auth import Authenticated, can_read, require_role, require_within
from shared.unit_of_work import Command

router = APIRouter(tags=["settlements"])


class SettlementCreate(In):
    project_id: uuid.UUID
    county_code: OrgCode
    fee_per_participant_fen: Fen  # the contracted fee (中标课时费标准) per participant


@router.post("/v1/settlements", status_code=201, summary="Settle a project's per-participant fee for a county",
             response_model=Settled,
             responses={200: {"description": "already settled with these figures: nothing recorded",
                              "model": Settled}})
async def settle(body: SettlementCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "county_admin")
    require_within(cmd.principal, body.county_code)
    return await cmd.run(lambda uow: settle_handler.handle(uow, body.project_id, body.county_code,
                                                           body.fee_per_participant_fen))


_OF_PROJECT = """
SELECT entry_id AS settlement_id, org_code AS county_code, year, project_id, host_id, amount_fen, detail
FROM funding_entries WHERE kind = 'settlement' AND project_id = $1 ORDER BY org_code, stream_version
"""


@router.get("/v1/settlements", summary="A project's settlements with its host (结算), per county",
            response_model=Settlements)
async def list_settlements(project_id: uuid.UUID, request: Request, principal: Authenticated) -> JSONResponse:
    """Issue 20: the host reads its own settlements — those naming it as the project's host — as
    the paying counties and the admins and auditors above them read theirs; each row is one
    SettlementCalculated (a recomputation pays only the difference, so the amounts add up)."""
    require_role(principal, "host", *READERS)
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(_OF_PROJECT, project_id)
    mine = [r for r in rows if (principal.role == "host" and principal.org == str(r["host_id"]))
            or (principal.role != "host" and can_read(principal, r["county_code"]))]
    return JSONResponse({"project_id": str(project_id), "items": [
        {"settlement_id": str(r["settlement_id"]), "county_code": r["county_code"], "year": r["year"],
         "host_id": None if r["host_id"] is None else str(r["host_id"]), "amount_fen": r["amount_fen"],
         **{k: r["detail"].get(k) for k in ("participants", "fee_per_participant_fen", "previously_settled_fen")}}
        for r in mine], "total_fen": sum(r["amount_fen"] for r in mine)})
