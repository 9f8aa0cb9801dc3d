"""HTTP routes: revoking a ledger entry (an award or an approved claim), and reading one. Nothing
is deleted: an EntryRevoked is appended to the entry's own stream, and the transcript shows the
entry and its revocation line. Certificates resting on the entry then verify as invalid.

Who may revoke: auditors (the credit office) and county, city and province admins whose subtree
holds the org the entry was recorded under; school admins and teachers may not.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from services.credits.api.models import Entry, Revoked
from services.credits.domain.policy import from_tenths, num
from services.credits.handlers import revoke_entry as revocation
from services.credits.queries.ledger import entry
from services.credits.titles import problem
from shared.auth import Authenticated, can_read, require_role
from shared.clock import Today
from shared.inputs import Note
from shared.unit_of_work import Command

router = APIRouter(tags=["entries"])
REVOKERS = ("auditor", "county_admin", "city_admin", "province_admin")


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Note = Field(min_length=1, max_length=500)


@router.post("/v1/entries/{entry_id}/revoke", summary="Revoke a ledger entry (never deletes)", response_model=Revoked)
async def revoke_entry(entry_id: uuid.UUID, body: Revocation, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *REVOKERS)
    return await cmd.run(lambda uow: revocation.handle(uow, entry_id, body.reason, today))


def _json(v: Any) -> Any:
    return str(v) if isinstance(v, uuid.UUID) else v.isoformat() if hasattr(v, "isoformat") else v


@router.get("/v1/entries/{entry_id}", summary="A ledger entry", response_model=Entry)
async def get_entry(entry_id: uuid.UUID, request: Request, principal: Authenticated) -> JSONResponse:
    async with request.app.state.pool.acquire() as conn:
        row = await entry(conn, entry_id)
        version = await conn.fetchval("SELECT max(version) FROM events WHERE stream_id = $1", row["stream_id"])
    owner = principal.role == "teacher" and principal.sub == str(row["teacher_id"])
    if not owner and not (row["org_code"] and can_read(principal, row["org_code"])):
        raise problem("out_of_scope", "this entry is outside your jurisdiction", 403)
    out = {k: _json(v) for k, v in dict(row).items() if k != "hours_tenths"}
    out.update(hours=num(from_tenths(row["hours_tenths"])), status="revoked" if row["revoked_on"] else "active",
               version=version)
    return JSONResponse(out, headers={"ETag": f'"{version}"'})
