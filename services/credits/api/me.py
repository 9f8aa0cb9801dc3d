"""HTTP routes: the teacher's own records (issue 15, "me" endpoints), the teacher being the
token's `sub`; role `teacher` only, every other role is 403 forbidden_role (admins read a
teacher's records at /v1/teachers/{teacher_id}/...).

- GET /v1/me/transcript?as_of=: my transcript, the same body as GET /v1/teachers/{id}/transcript
  (api/transcripts.py: load_ledger, transcript_json).
- GET /v1/me/certificates: the certificates issued to me, the latest first, cursor-paged, each
  as public verification shows it (views.certificate_json: masked holder, validity now, the
  signed credential), with the number to print or hand to a verifier.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.credits.api.common import as_of_or_today, decode_cursor, encode_cursor
from services.credits.api.models import MyCertificates, Transcript
from services.credits.api.transcripts import transcript_json

# The certificates table's columns and row shape as queries/certificates.py reads them (that
# module has no list query yet; its helpers are reused rather than copied).
from services.credits.queries.certificates import of_teacher
from services.credits.queries.ledger import load_ledger
from services.credits.titles import problem
from services.credits.views import certificate_json
from shared.auth import Authenticated, Principal, require_role
from shared.clock import Today
from shared.inputs import IsoDate

router = APIRouter(tags=["me"])


def _me(principal: Principal) -> uuid.UUID:
    require_role(principal, "teacher")
    try:
        return uuid.UUID(principal.sub)
    except ValueError:
        raise problem("teacher_not_found", "this token's sub is no teacher id", 404) from None


@router.get("/v1/me/transcript", summary="My transcript (学时档案), the teacher's own", response_model=Transcript)
async def my_transcript(request: Request, principal: Authenticated, today: Today,
                        as_of: IsoDate | None = Query(None, description="the transcript as it stood on this date"),
                        ) -> Any:
    me = _me(principal)
    on = as_of_or_today(as_of, today)
    async with request.app.state.pool.acquire() as conn:
        ledger, row = await load_ledger(conn, principal, me, on)
    return transcript_json(me, ledger, row)


@router.get("/v1/me/certificates", summary="My certificates (继续教育电子证书), the teacher's own",
            response_model=MyCertificates)
async def my_certificates(request: Request, principal: Authenticated,
                          limit: Annotated[int, Query(ge=1, le=200)] = 50,
                          cursor: Annotated[str | None, Query(max_length=200)] = None) -> Any:
    me = _me(principal)
    parts = decode_cursor(cursor, 2)
    try:
        after = (date.fromisoformat(parts[0]), parts[1]) if parts else None
    except ValueError:
        raise problem("bad_cursor", "pass next_cursor back unchanged", 422) from None
    async with request.app.state.pool.acquire() as conn:
        rows = await of_teacher(conn, me, after, limit + 1)
    items = [certificate_json(*facts) for facts in rows[:limit]]
    nxt = encode_cursor(items[-1]["issued_on"], items[-1]["certificate_no"]) if len(rows) > limit else None
    return {"teacher_id": str(me), "items": items, "next_cursor": nxt}
