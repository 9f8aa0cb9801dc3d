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

import uuid
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.credits.access import REVIEWERS
from services.credits.api.models import Certificate, Jwks
from services.credits.config import CreditsSettings, load_signer
from services.credits.credential import build_credential
from services.credits.domain.certificates import well_formed
from services.credits.handlers import issue_certificate as issuing
from services.credits.queries.certificates import certificate
from services.credits.signing import Signer
from services.credits.titles import problem
from services.credits.views import certificate_json
from shared.auth import require_role
from shared.clock import Today
from shared.problems import Problem
from shared.ratelimit import PgTokenBucket
from shared.unit_of_work import Command

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


def credits_settings(app: FastAPI) -> CreditsSettings:
    if getattr(app.state, "credits_settings", None) is None:
        app.state.credits_settings = CreditsSettings()
    settings: CreditsSettings = app.state.credits_settings
    return settings


def signer(app: FastAPI) -> Signer:
    # Loaded on first use, not at import: importing the app must not write key files.
    if getattr(app.state, "credits_signer", None) is None:
        app.state.credits_signer = load_signer(credits_settings(app))
    loaded: Signer = app.state.credits_signer
    return loaded


VERIFY_LIMIT = "certificate-verification"


def _limiter(app: FastAPI) -> PgTokenBucket:
    """One budget per client across every replica: the buckets live in credits' database."""
    if getattr(app.state, "credits_limiter", None) is None:
        s = credits_settings(app)
        app.state.credits_limiter = PgTokenBucket(app.state.pool, VERIFY_LIMIT, s.verify_rate, s.verify_burst)
    limiter: PgTokenBucket = app.state.credits_limiter
    return limiter


@router.post("/v1/teachers/{teacher_id}/certificates", status_code=201, summary="Issue a certificate",
             response_model=Certificate,
             responses={200: {"description": "already issued: the existing certificate", "model": Certificate}})
async def issue_certificate(teacher_id: uuid.UUID, body: CertificateCreate, cmd: Command, today: Today,
                            request: Request) -> Response:
    require_role(cmd.principal, "teacher", *REVIEWERS)  # service accounts read, never issue
    app = request.app

    def sign(facts: dict[str, Any]) -> dict[str, Any]:
        return build_credential(facts, signer(app), credits_settings(app).public_url)

    return await cmd.run(lambda uow: issuing.handle(uow, teacher_id, body.year, body.cycle, today, sign))


@router.get("/v1/certificates/keys", summary="Certificate signing keys (JWKS), for offline verification",
            response_model=Jwks)
async def certificate_keys(request: Request) -> JSONResponse:
    return JSONResponse(signer(request.app).jwks(), headers={"Cache-Control": "public, max-age=3600"})


def _client(request: Request) -> str:
    if credits_settings(request.app).trust_forwarded_for:
        # The last entry is the one our proxy wrote (the address it saw); anything before it came
        # from the client, which could rotate it to get a fresh bucket per request.
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.client.host if request.client else "unknown"


@router.get("/v1/certificates/{certificate_no}", summary="Verify a certificate (public, rate-limited)",
            response_model=Certificate)
async def verify_certificate(certificate_no: str, request: Request) -> Any:
    wait = await _limiter(request.app).take(_client(request))
    if wait > 0:
        raise Problem(429, "rate_limited", "请求过多 Too many requests", "slow down",
                      headers={"Retry-After": str(max(1, round(wait + 0.5)))})
    number = certificate_no.strip().upper()
    found = None
    if well_formed(number):
        async with request.app.state.pool.acquire() as conn:
            found = await certificate(conn, number)
    if found is None:
        raise problem("certificate_not_found", "no certificate with this number", 404)
    return certificate_json(*found)
