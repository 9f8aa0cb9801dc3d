"""HTTP route: revoking a ledger entry (an award or an approved claim). Nothing is deleted: an
EntryRevoked is appended to the entry's own stream, and the transcript shows the entry and its
revocation line. Certificates resting on the entry then verify as invalid.

Who may revoke: auditors (the credit office) and county, city and province admins whose subtree
holds the org the entry was recorded under; school admins and teachers may not.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.credits.api.common import Today, expected_version, num, out_of_scope, problem, refusal
from services.credits.domain.claims import evolve_claim
from services.credits.domain.entries import decide_revoke, evolve_award
from services.credits.domain.errors import Refused
from services.credits.domain.policy import from_tenths
from services.credits.projector import record
from shared.aggregate import load_state
from shared.auth import Authenticated, can_read, require_role
from shared.commands import Command
from shared.inputs import Note

router = APIRouter(tags=["entries"])
REVOKERS = ("auditor", "county_admin", "city_admin", "province_admin")


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Note = Field(min_length=1, max_length=500)


_ENTRY = """SELECT entry_id, teacher_id, kind, stream_id, org_code, hours_tenths, category, earned_on, school_year,
                   recorded_on, revoked_on, revoke_reason FROM entries WHERE entry_id = $1"""


async def _entry_row(conn, entry_id: uuid.UUID):
    row = await conn.fetchrow(_ENTRY, entry_id)
    if row is None:
        raise problem("entry_not_found", f"no ledger entry {entry_id}", 404)
    return row


@router.post("/v1/entries/{entry_id}/revoke", summary="Revoke a ledger entry (never deletes)")
async def revoke_entry(entry_id: uuid.UUID, body: Revocation, cmd: Command, today: Today):
    require_role(cmd.principal, *REVOKERS)
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        row = await _entry_row(tx.conn, entry_id)
        if row["org_code"] is None or not can_read(cmd.principal, row["org_code"]):
            raise out_of_scope("this entry is outside your jurisdiction")
        stream = row["stream_id"]
        if stream.startswith("award-"):
            entry, version = await load_state(tx.conn, cmd.store, stream, evolve_award, None)
        else:
            claim, version = await load_state(tx.conn, cmd.store, stream, evolve_claim, None)
            entry = claim.as_entry() if claim else None
        expected = expected_version(cmd.if_match(), stream, version)
        try:
            events = decide_revoke(entry, reason=body.reason, today=today)
        except Refused as exc:
            raise refusal(exc) from None
        await record(tx.conn, cmd.store, stream, expected, events, tx.metadata)
        now = version + len(events)
        data = events[0][1]
        out = {"entry_id": str(entry_id), "teacher_id": data["teacher_id"], "hours": data["hours"],
               "category": data["category"], "school_year": data["school_year"], "status": "revoked",
               "revoked_on": data["revoked_on"], "reason": data["reason"], "version": now}
        return await tx.respond(200, out, headers={"ETag": f'"{now}"'})


@router.get("/v1/entries/{entry_id}", summary="A ledger entry")
async def get_entry(entry_id: uuid.UUID, request: Request, principal: Authenticated):
    async with request.app.state.pool.acquire() as conn:
        row = await _entry_row(conn, entry_id)
        version = await conn.fetchval("SELECT max(version) FROM events WHERE stream_id = $1", row["stream_id"])
    owner = principal.role == "teacher" and principal.sub == str(row["teacher_id"])
    if not owner and not (row["org_code"] and can_read(principal, row["org_code"])):
        raise out_of_scope("this entry is outside your jurisdiction")
    out = {k: (str(v) if isinstance(v, uuid.UUID) else v.isoformat() if hasattr(v, "isoformat") else v)
           for k, v in dict(row).items() if k != "hours_tenths"}
    out.update(hours=num(from_tenths(row["hours_tenths"])), status="revoked" if row["revoked_on"] else "active",
               version=version)
    return JSONResponse(out, headers={"ETag": f'"{version}"'})
