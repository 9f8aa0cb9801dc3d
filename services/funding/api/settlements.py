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

from fastapi import APIRouter
from fastapi.responses import Response

from services.funding.api.common import Fen, In, OrgCode
from services.funding.handlers import settle as settle_handler
from shared.auth import require_role, require_within
from shared.unit_of_work import Command

router = APIRouter(tags=["settlements"])


class SettlementCreate(In):
    project_id: uuid.UUID
    county_code: OrgCode
    fee_per_participant_fen: Fen  # the contracted fee (中标课时费标准) per participant


@router.post("/v1/settlements", status_code=201, summary="Settle a project's per-participant fee for a county",
             responses={200: {"description": "already settled with these figures: nothing recorded",
                              "content": {"application/json": {"schema": {"type": "object"}}}}})
async def settle(body: SettlementCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "county_admin")
    require_within(cmd.principal, body.county_code)
    return await cmd.run(lambda uow: settle_handler.handle(uow, body.project_id, body.county_code,
                                                           body.fee_per_participant_fen))
