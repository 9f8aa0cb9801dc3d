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
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from services.credits.access import ADMINS, REVIEWERS, may_read_teacher
from services.credits.api.common import decode_cursor, encode_cursor
from services.credits.api.models import Claim as ClaimView
from services.credits.api.models import ClaimPage
from services.credits.domain.claims import Claim
from services.credits.domain.policy import from_tenths
from services.credits.handlers import approve_claim as approval
from services.credits.handlers import reject_claim as rejection
from services.credits.handlers import submit_claim as submission
from services.credits.titles import problem
from services.credits.views import claim_json
from shared.auth import Authenticated, Principal, require_role
from shared.clock import Today
from shared.inputs import IsoDate, Note, Text
from shared.orgs import subtree_prefix
from shared.orgtree import subtree_sql
from shared.unit_of_work import Command

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


@router.post("/v1/claims", status_code=201, summary="Claim hours earned outside the system", response_model=ClaimView)
async def submit_claim(body: ClaimCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "teacher", *ADMINS)
    return await cmd.run(lambda uow: submission.handle(
        uow, teacher_id=body.teacher_id, hours=body.hours, category=body.category, source=body.source,
        earned_on=body.earned_on, evidence=body.evidence, today=today))


@router.post("/v1/claims/{claim_id}/approve", summary="Approve a claim (auditor)", response_model=ClaimView)
async def approve_claim(claim_id: uuid.UUID, cmd: Command, today: Today, body: Approval | None = None) -> Response:
    require_role(cmd.principal, "auditor")
    reason = body.reason if body else None
    return await cmd.run(lambda uow: approval.handle(uow, claim_id, reason, today))


@router.post("/v1/claims/{claim_id}/reject", summary="Reject a claim (auditor)", response_model=ClaimView)
async def reject_claim(claim_id: uuid.UUID, body: Rejection, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "auditor")
    return await cmd.run(lambda uow: rejection.handle(uow, claim_id, body.reason, today))


_COLUMNS = """claim_id, teacher_id, org_code, hours_tenths, category, source, earned_on, evidence, school_year,
              submitted_on, status, decided_on, reason, revoked, version"""


def _from_row(r: Any) -> tuple[Claim, int]:
    return Claim(str(r["claim_id"]), str(r["teacher_id"]), r["org_code"], from_tenths(r["hours_tenths"]),
                 r["category"], r["source"], r["earned_on"], r["evidence"], r["school_year"], r["submitted_on"],
                 r["status"], r["decided_on"], r["reason"], r["revoked"]), r["version"]


@router.get("/v1/claims/{claim_id}", summary="A claim", response_model=ClaimView)
async def get_claim(claim_id: uuid.UUID, request: Request, principal: Authenticated) -> JSONResponse:
    r = await request.app.state.pool.fetchrow(f"SELECT {_COLUMNS} FROM claims WHERE claim_id = $1", claim_id)
    if r is None or not may_read_teacher(principal, str(r["teacher_id"]), r["org_code"]):
        if r is not None and principal.role in REVIEWERS:
            raise problem("out_of_scope", "this claim is outside your jurisdiction", 403)
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
    if p.role in REVIEWERS and p.org:
        return p.org, subtree_prefix(p.org), None
    raise problem("forbidden_role", "claims are listed for teachers, admins and auditors", 403)


@router.get("/v1/claims", summary="Claims in scope, e.g. status=pending for review", response_model=ClaimPage)
async def list_claims(request: Request, principal: Authenticated,
                      status: Literal["pending", "approved", "rejected"] | None = None,
                      teacher_id: uuid.UUID | None = None, limit: int = Query(50, ge=1, le=500),
                      cursor: str | None = Query(None, max_length=200)) -> Any:
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
              AND ($4::text IS NULL OR {subtree_sql("org_code", "$4", "$5")})
              AND (submitted_on, claim_id) > ($6::date, $7::uuid)
            ORDER BY submitted_on, claim_id LIMIT $8""",
        status, teacher_id, own, org, prefix, after_day, after_id, limit + 1)
    items = [claim_json(*_from_row(r)) for r in rows[:limit]]
    more = len(rows) > limit
    return {"items": items,
            "next_cursor": encode_cursor(items[-1]["submitted_on"], items[-1]["claim_id"]) if more else None}
