"""HTTP routes: claims for hours earned outside the system, and their review (备案、审核, 001 §5.4).

Who may act:
- submit: the teacher themself, or a school/county/city/province admin over the teacher's school;
- approve / reject: an auditor (credit office) whose subtree holds the teacher's school — no
  other role (403 forbidden_role), no auditor elsewhere (403 out_of_scope);
- read: the teacher (own), admins and auditors in scope, service accounts.
An approved claim becomes a ledger entry with entry_id = claim_id (revocable like an award).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.credits.api.common import (
    ADMINS,
    Today,
    decode_cursor,
    encode_cursor,
    expected_version,
    may_read_teacher,
    num,
    out_of_scope,
    problem,
    refusal,
)
from services.credits.domain.claims import Claim, decide_approve, decide_claim, decide_reject, evolve_claim
from services.credits.domain.errors import Refused
from services.credits.domain.policy import from_tenths
from services.credits.projector import record
from services.credits.queries import chain_and_book, teacher
from shared.aggregate import load_state
from shared.auth import Authenticated, Principal, can_read, require_role, subtree_prefix
from shared.commands import Command, CommandContext
from shared.eventstore import NO_STREAM
from shared.inputs import IsoDate, Note, Text

router = APIRouter(tags=["claims"])
Hours = Annotated[Decimal, Field(gt=0, le=2000, decimal_places=1, allow_inf_nan=False)]


class ClaimCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    teacher_id: uuid.UUID
    hours: Hours
    category: Text = Field(min_length=1, max_length=32)
    source: Literal["degree_study", "workshop", "school_based", "other"]
    earned_on: IsoDate
    evidence: Text = Field(min_length=1, max_length=500, description="a file number, archive reference or URL")


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Note | None = Field(None, max_length=500)


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Note = Field(min_length=1, max_length=500)


def claim_json(c: Claim, version: int) -> dict:
    return {"claim_id": c.claim_id, "teacher_id": c.teacher_id, "org_code": c.org_code, "hours": num(c.hours),
            "category": c.category, "source": c.source, "earned_on": c.earned_on.isoformat(), "evidence": c.evidence,
            "school_year": c.school_year, "submitted_on": c.submitted_on.isoformat(), "status": c.status,
            "decided_on": c.decided_on.isoformat() if c.decided_on else None, "reason": c.reason,
            "entry_id": c.claim_id if c.status == "approved" else None, "revoked": c.revoked, "version": version}


@router.post("/v1/claims", status_code=201, summary="Claim hours earned outside the system")
async def submit_claim(body: ClaimCreate, cmd: Command, today: Today):
    p = cmd.principal
    require_role(p, "teacher", *ADMINS)
    claim_id = str(uuid.uuid4())
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        row = await teacher(tx.conn, body.teacher_id)
        if p.role == "teacher" and p.sub != str(body.teacher_id):
            raise out_of_scope("a teacher claims only their own hours")
        if row is None:
            raise problem("teacher_not_found", f"no teacher {body.teacher_id} is known to the credits service", 404)
        if p.role != "teacher" and not can_read(p, row["school_code"]):
            raise out_of_scope("this teacher is outside your jurisdiction")
        chain, book = await chain_and_book(tx.conn, row["school_code"])
        policy = book.for_chain(chain, body.earned_on)
        try:
            events = decide_claim(None, claim_id=claim_id, teacher_id=str(body.teacher_id), org_code=row["school_code"],
                                  hours=body.hours, category=body.category, source=body.source,
                                  earned_on=body.earned_on, evidence=body.evidence, today=today, policy=policy)
        except Refused as exc:
            raise refusal(exc) from None
        stream = f"claim-{claim_id}"
        await record(tx.conn, cmd.store, stream, NO_STREAM, events, tx.metadata)
        state = evolve_claim(None, *events[0])
        return await tx.respond(201, claim_json(state, 1),
                                headers={"ETag": '"1"', "Location": f"/v1/claims/{claim_id}"})


async def _review(cmd: CommandContext, claim_id: uuid.UUID, decide) -> JSONResponse:
    require_role(cmd.principal, "auditor")
    stream = f"claim-{claim_id}"
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        state, version = await load_state(tx.conn, cmd.store, stream, evolve_claim, None)
        if state is None:
            raise problem("claim_not_found", f"no claim {claim_id}", 404)
        if state.org_code is None or not can_read(cmd.principal, state.org_code):
            raise out_of_scope("this claim is outside your jurisdiction")
        expected = expected_version(cmd.if_match(), stream, version)
        try:
            events = decide(state)
        except Refused as exc:
            raise refusal(exc) from None
        await record(tx.conn, cmd.store, stream, expected, events, tx.metadata)
        for type_, data in events:
            state = evolve_claim(state, type_, data)
        now = version + len(events)
        return await tx.respond(200, claim_json(state, now), headers={"ETag": f'"{now}"'})


@router.post("/v1/claims/{claim_id}/approve", summary="Approve a claim (auditor)")
async def approve_claim(claim_id: uuid.UUID, cmd: Command, today: Today, body: Approval | None = None):
    reason = body.reason if body else None
    return await _review(cmd, claim_id, lambda s: decide_approve(s, today=today, reason=reason))


@router.post("/v1/claims/{claim_id}/reject", summary="Reject a claim (auditor)")
async def reject_claim(claim_id: uuid.UUID, body: Rejection, cmd: Command, today: Today):
    return await _review(cmd, claim_id, lambda s: decide_reject(s, reason=body.reason, today=today))


_COLUMNS = """claim_id, teacher_id, org_code, hours_tenths, category, source, earned_on, evidence, school_year,
              submitted_on, status, decided_on, reason, revoked, version"""


def _from_row(r) -> tuple[Claim, int]:
    return Claim(str(r["claim_id"]), str(r["teacher_id"]), r["org_code"], from_tenths(r["hours_tenths"]),
                 r["category"], r["source"], r["earned_on"], r["evidence"], r["school_year"], r["submitted_on"],
                 r["status"], r["decided_on"], r["reason"], r["revoked"]), r["version"]


@router.get("/v1/claims/{claim_id}", summary="A claim")
async def get_claim(claim_id: uuid.UUID, request: Request, principal: Authenticated):
    r = await request.app.state.pool.fetchrow(f"SELECT {_COLUMNS} FROM claims WHERE claim_id = $1", claim_id)
    if r is None or not may_read_teacher(principal, str(r["teacher_id"]), r["org_code"]):
        if r is not None and principal.role in (*ADMINS, "auditor"):
            raise out_of_scope("this claim is outside your jurisdiction")
        raise problem("claim_not_found", f"no claim {claim_id}", 404)
    claim, version = _from_row(r)
    return JSONResponse(claim_json(claim, version), headers={"ETag": f'"{version}"'})


def _scope(p: Principal) -> tuple[str | None, str | None, uuid.UUID | None]:
    """(exact org, org prefix, teacher) a list is limited to."""
    if p.role == "service":
        return None, None, None
    if p.role == "teacher":
        try:
            return None, None, uuid.UUID(p.sub)
        except ValueError:  # a teacher token whose sub is not a teacher id sees nothing, as in enrollment
            return None, None, uuid.UUID(int=0)
    if p.role in (*ADMINS, "auditor") and p.org:
        return p.org, subtree_prefix(p.org), None
    raise problem("forbidden_role", "claims are listed for teachers, admins and auditors", 403)


@router.get("/v1/claims", summary="Claims in scope, e.g. status=pending for review")
async def list_claims(request: Request, principal: Authenticated,
                      status: Literal["pending", "approved", "rejected"] | None = None,
                      teacher_id: uuid.UUID | None = None, limit: int = Query(50, ge=1, le=500),
                      cursor: str | None = Query(None, max_length=200)):
    org, prefix, own = _scope(principal)
    after = decode_cursor(cursor, 2) or ["0001-01-01", "00000000-0000-0000-0000-000000000000"]
    try:
        after_day, after_id = date.fromisoformat(after[0]), uuid.UUID(after[1])
    except ValueError:
        raise problem("bad_cursor", "pass next_cursor back unchanged", 422) from None
    rows = await request.app.state.pool.fetch(
        f"""SELECT {_COLUMNS} FROM claims
            WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR teacher_id = $2)
              AND ($3::uuid IS NULL OR teacher_id = $3)
              AND ($4::text IS NULL OR org_code = $4 OR ($5::text IS NOT NULL AND org_code LIKE $5 || '%'))
              AND (submitted_on, claim_id) > ($6::date, $7::uuid)
            ORDER BY submitted_on, claim_id LIMIT $8""",
        status, teacher_id, own, org, prefix, after_day, after_id, limit + 1)
    items = [claim_json(*_from_row(r)) for r in rows[:limit]]
    more = len(rows) > limit
    return {"items": items,
            "next_cursor": encode_cursor(items[-1]["submitted_on"], items[-1]["claim_id"]) if more else None}
