"""Check-in codes (扫码报到): the project's host shows a short-lived signed code per session as a
QR code; the teacher's app posts it (POST /v1/check-ins) and is checked in to that project.

A code is a compact JWT (PyJWT, HS256) under a key derived from the service's configured secret
(pii.PiiVault.sub_key, its own label), audience `tt/check-in`, naming the project, the session
date and a random nonce, valid for `CODE_TTL`. Verification here is the signature and the clock
only (`code_invalid`, `code_expired`); whether the code is the teacher's project and whether this
enrollment already redeemed it are the decider's (domain/enrollment.decide_check_in).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jwt

from services.enrollment import pii
from services.enrollment.domain.enrollment import CheckInCode
from shared.refusal import Refused

CODE_TTL = timedelta(minutes=10)  # long enough to scan in a full room, short enough not to be mailed round
_AUDIENCE = "tt/check-in"
_LABEL = b"tt/enrollment/check-in-code/v1"
_ALGORITHM = "HS256"


async def utc_now() -> datetime:
    """The clock codes are issued and judged by: a dependency, so a test can move it."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Issued:
    code: str
    expires_at: datetime


def _key(app_state: Any) -> bytes:
    return pii.vault_for(app_state).sub_key(_LABEL)


def issue(app_state: Any, project_id: uuid.UUID, session_date: date, now: datetime) -> Issued:
    expires = now + CODE_TTL
    claims = {"aud": _AUDIENCE, "pid": str(project_id), "d": session_date.isoformat(),
              "n": secrets.token_urlsafe(12), "iat": int(now.timestamp()), "exp": int(expires.timestamp())}
    return Issued(jwt.encode(claims, _key(app_state), algorithm=_ALGORITHM), expires)


def read(app_state: Any, code: str, now: datetime) -> CheckInCode:
    """The code's claims, or a refusal: not ours or altered (`code_invalid`), too old (`code_expired`)."""
    try:
        claims = jwt.decode(code, _key(app_state), algorithms=[_ALGORITHM], audience=_AUDIENCE,
                            options={"require": ["exp", "aud", "pid", "d", "n"], "verify_exp": False})
        project_id, session = str(uuid.UUID(claims["pid"])), date.fromisoformat(claims["d"])
        nonce, expires = str(claims["n"]), datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError):
        raise Refused("code_invalid", "not a check-in code of this service", 422) from None
    if now >= expires:
        raise Refused("code_expired", f"this check-in code expired at {expires.isoformat()}; scan the current one", 422)
    return CheckInCode(project_id, session, nonce)
