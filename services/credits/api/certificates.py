"""HTTP routes: certificates (继续教育电子证书, 001 §6.6).

- POST /v1/teachers/{id}/certificates {year} or {cycle}: issue for a school year or a cycle
  (given by its first school year) whose target is met. Who: the teacher (own), admins and
  auditors over the teacher's school. A still-valid certificate for the same period and hours is
  returned again (200) instead of issuing a second one.
- GET /v1/certificates/keys: the signing keys as a JWKS (public), for offline verification.
- GET /v1/certificates/{no}: public verification, no login, rate-limited per client: masked
  holder, hours, validity (invalid once an entry it rests on is revoked) and the signed credential.
  No names, no school, no raw teacher id.
"""

from __future__ import annotations

import secrets
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.credits.api.common import ADMINS, Today, num, problem, refusal
from services.credits.api.transcripts import load_ledger
from services.credits.config import CreditsSettings, load_signer
from services.credits.credential import build_credential
from services.credits.domain.certificates import RANDOM_BYTES, certificate_no, decide_issue, mask_id, well_formed
from services.credits.domain.errors import Refused
from services.credits.domain.policy import from_tenths, tenths
from services.credits.projector import record
from services.credits.ratelimit import TokenBucket
from services.credits.signing import Signer
from shared.auth import require_role
from shared.commands import Command
from shared.eventstore import NO_STREAM
from shared.problems import Problem

router = APIRouter(tags=["certificates"])


class CertificateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: int | None = Field(None, ge=2000, le=2100, description="a school year, e.g. 2023 = 2023学年")
    cycle: int | None = Field(None, ge=2000, le=2100, description="the first school year of a cycle")

    @model_validator(mode="after")
    def _one(self) -> CertificateCreate:
        if (self.year is None) == (self.cycle is None):
            raise ValueError("give exactly one of year or cycle")
        return self


def credits_settings(app) -> CreditsSettings:
    if getattr(app.state, "credits_settings", None) is None:
        app.state.credits_settings = CreditsSettings()
    return app.state.credits_settings


def signer(app) -> Signer:
    # Loaded on first use, not at import: importing the app must not write key files.
    if getattr(app.state, "credits_signer", None) is None:
        app.state.credits_signer = load_signer(credits_settings(app))
    return app.state.credits_signer


def _limiter(app) -> TokenBucket:
    if getattr(app.state, "credits_limiter", None) is None:
        s = credits_settings(app)
        app.state.credits_limiter = TokenBucket(s.verify_rate, s.verify_burst)
    return app.state.credits_limiter


_VALID = "SELECT NOT EXISTS (SELECT 1 FROM entries WHERE entry_id = ANY($1) AND revoked_on IS NOT NULL)"


def _view(row, valid: bool) -> dict:
    return {
        "certificate_no": row["certificate_no"], "holder": mask_id(str(row["teacher_id"])), "kind": row["kind"],
        "label": row["label"], "start_year": row["start_year"], "end_year": row["end_year"],
        "hours": num(from_tenths(row["hours_tenths"])), "credits": num(row["credits"]),
        "target": num(from_tenths(row["target_tenths"])), "jurisdiction_code": row["jurisdiction_code"],
        "issued_on": row["issued_on"].isoformat(), "valid": valid, "status": "valid" if valid else "invalid",
        "invalid_reasons": [] if valid else ["entry_revoked"], "credential": row["credential"],
    }


_COLUMNS = """certificate_no, teacher_id, kind, start_year, end_year, label, hours_tenths, credits, target_tenths,
              jurisdiction_code, entry_ids, issued_on, credential"""


@router.post("/v1/teachers/{teacher_id}/certificates", status_code=201, summary="Issue a certificate",
             responses={200: {"description": "already issued: the existing certificate",
                              "content": {"application/json": {"schema": {"type": "object"}}}}})
async def issue_certificate(teacher_id: uuid.UUID, body: CertificateCreate, cmd: Command, today: Today,
                            request: Request):
    require_role(cmd.principal, "teacher", *ADMINS, "auditor")  # service accounts read, never issue
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        # One issuer per teacher at a time, so two clicks cannot mint two certificates.
        await tx.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 17))", str(teacher_id))
        ledger, _ = await load_ledger(tx.conn, cmd.principal, teacher_id, today)
        try:
            if body.year is not None:
                period = ledger.year(body.year)
            else:
                if ledger.policy is None:
                    raise Refused("no_policy", "no credit policy applies to this teacher")
                if ledger.policy.cycle_of(body.cycle)[0] != body.cycle:
                    raise Refused("not_a_cycle", f"{body.cycle} is not the first year of a cycle", 422)
                period = ledger.cycle(body.cycle)
            jurisdiction = period.policy.jurisdiction_code if period.policy else "000000"
            number = certificate_no(jurisdiction, period, secrets.token_bytes(RANDOM_BYTES))
            facts = decide_issue(period, teacher_id=str(teacher_id), current_year=ledger.current_year, today=today,
                                 certificate_no=number)
        except Refused as exc:
            raise refusal(exc) from None
        existing = await tx.conn.fetchrow(
            f"""SELECT {_COLUMNS} FROM certificates WHERE teacher_id = $1 AND kind = $2 AND start_year = $3
                AND hours_tenths = $4 ORDER BY issued_on DESC LIMIT 1""",
            teacher_id, period.kind, period.start_year, tenths(period.hours))
        if existing is not None and await tx.conn.fetchval(_VALID, existing["entry_ids"]):
            return await tx.respond(200, _view(existing, True),
                                    headers={"Location": f"/v1/certificates/{existing['certificate_no']}"})
        s = credits_settings(request.app)
        data = {**facts, "credential": build_credential(facts, signer(request.app), s.public_url)}
        await record(tx.conn, cmd.store, f"certificate-{number}", NO_STREAM, [("CertificateIssued", data)],
                     tx.metadata)
        row = await tx.conn.fetchrow(f"SELECT {_COLUMNS} FROM certificates WHERE certificate_no = $1", number)
        return await tx.respond(201, _view(row, True), headers={"Location": f"/v1/certificates/{number}"})


@router.get("/v1/certificates/keys", summary="Certificate signing keys (JWKS), for offline verification")
async def certificate_keys(request: Request):
    return JSONResponse(signer(request.app).jwks(), headers={"Cache-Control": "public, max-age=3600"})


def _client(request: Request) -> str:
    if credits_settings(request.app).trust_forwarded_for:
        # The last entry is the one our proxy wrote (the address it saw); anything before it came
        # from the client, which could rotate it to get a fresh bucket per request.
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.client.host if request.client else "unknown"


@router.get("/v1/certificates/{certificate_no}", summary="Verify a certificate (public, rate-limited)")
async def verify_certificate(certificate_no: str, request: Request):
    wait = _limiter(request.app).take(_client(request))
    if wait > 0:
        raise Problem(429, "rate_limited", "请求过多 Too many requests", "slow down",
                      headers={"Retry-After": str(max(1, round(wait + 0.5)))})
    number = certificate_no.strip().upper()
    row = None
    if well_formed(number):
        async with request.app.state.pool.acquire() as conn:
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM certificates WHERE certificate_no = $1", number)
            valid = row is not None and await conn.fetchval(_VALID, row["entry_ids"])
    if row is None:
        raise problem("certificate_not_found", "no certificate with this number", 404)
    return _view(row, bool(valid))
