"""HTTP routes: the funding read models of an org and year (admins and auditors within their
subtree, and `service`).

- GET /v1/orgs/{code}/funding?year=&as_of= — budget, received, allocated, spent, available;
  funding ratio, payroll share, pass-down share; the policy in force with one verdict per rule
  (threshold, exact compliant flag, the rule's source); the subtree rolled up.
- GET /v1/orgs/{code}/funding/projects?year= (extension) — spending per participant per project
  over the subtree: spent ÷ participants checked in from the subtree, rounded ROUND_HALF_EVEN
  to whole fen.
- GET /v1/orgs/{code}/funding/entries?year= (extension) — the org's ledger in recorded order:
  allocations made and received, disbursements, settlements, reversals (negative amounts).
Lists take `limit` (1–500) and an opaque `cursor`, and return {items, next_cursor}.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from services.funding.api import readmodel
from services.funding.api.common import READERS, problem, subtree_clause
from shared.auth import Authenticated, Principal, require_role, require_within, subtree_prefix
from shared.inputs import IsoDate

router = APIRouter(tags=["funding"])
CodeParam = Annotated[str, Path(min_length=6, max_length=12, pattern=r"^[0-9]+$")]
YearQuery = Annotated[int, Query(ge=2000, le=2100)]
Limit = Annotated[int, Query(ge=1, le=500)]


async def _org(request: Request, principal: Principal, code: str):
    require_role(principal, *READERS)
    require_within(principal, code)
    row = await request.app.state.pool.fetchrow("SELECT code, name, kind FROM orgs WHERE code = $1", code)
    if row is None:
        raise problem("org_not_found", f"org {code} is not registered", 404)
    return row


def _cursor(cursor: str | None) -> str:
    if not cursor:
        return ""
    try:
        return base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise problem("bad_cursor", "pass next_cursor back unchanged", 422) from None


def _next(value: object) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode()


@router.get("/v1/orgs/{code}/funding", summary="Funding ratios and compliance of an org for a year")
async def get_funding(code: CodeParam, request: Request, principal: Authenticated, year: YearQuery,
                      as_of: IsoDate | None = Query(None, description="judge under the policy in force on this day; "
                                                                   "default 31 December of the year")):
    org = await _org(request, principal, code)
    async with request.app.state.pool.acquire() as conn:
        return await readmodel.funding(conn, org, year, as_of)


_PROJECTS = f"""
WITH spend AS (
    SELECT project_id, sum(amount_fen) AS spent_fen FROM funding_entries
    WHERE ledger = 'spending' AND year = $3 AND project_id IS NOT NULL AND {subtree_clause("org_code", 1, 2)}
    GROUP BY project_id
)
SELECT s.project_id, s.spent_fen, p.code, p.name, p.host_id,
       (SELECT count(DISTINCT c.teacher_id) FROM checkins c LEFT JOIN teachers t ON t.id = c.teacher_id
        WHERE c.project_id = s.project_id AND {subtree_clause("coalesce(t.school_code, c.region_code)", 1, 2)})
           AS participants
FROM spend s LEFT JOIN projects p ON p.id = s.project_id
WHERE s.project_id::text > $4 ORDER BY s.project_id::text LIMIT $5
"""


def _per_participant(spent: int, participants: int) -> int | None:
    if participants <= 0:
        return None
    q, r = divmod(spent, participants)
    return q + 1 if 2 * r > participants or (2 * r == participants and q % 2 == 1) else q  # ROUND_HALF_EVEN


@router.get("/v1/orgs/{code}/funding/projects", summary="Spending per participant per project (subtree)")
async def get_projects(code: CodeParam, request: Request, principal: Authenticated, year: YearQuery,
                       limit: Limit = 50, cursor: str | None = Query(None, max_length=200)):
    await _org(request, principal, code)
    rows = await request.app.state.pool.fetch(_PROJECTS, code, subtree_prefix(code), year, _cursor(cursor),
                                              limit + 1)
    items = [{"project_id": str(r["project_id"]), "code": r["code"], "name": r["name"],
              "host_id": str(r["host_id"]) if r["host_id"] else None, "spent_fen": int(r["spent_fen"]),
              "participants": r["participants"],
              "spent_per_participant_fen": _per_participant(int(r["spent_fen"]), r["participants"])}
             for r in rows[:limit]]
    return {"items": items, "next_cursor": _next(items[-1]["project_id"]) if len(rows) > limit else None}


@router.get("/v1/orgs/{code}/funding/entries", summary="An org's ledger entries for a year")
async def get_entries(code: CodeParam, request: Request, principal: Authenticated, year: YearQuery,
                      limit: Limit = 50, cursor: str | None = Query(None, max_length=200)):
    await _org(request, principal, code)
    after = _cursor(cursor)
    if after and not (after.isascii() and after.isdigit() and len(after) <= 18):
        raise problem("bad_cursor", "pass next_cursor back unchanged", 422)
    rows = await request.app.state.pool.fetch(
        """SELECT entry_id, kind, ledger, org_code, to_code, year, project_id, host_id, amount_fen, purpose, reverses,
                  detail, position FROM funding_entries
           WHERE year = $2 AND (org_code = $1 OR to_code = $1) AND position > $3 ORDER BY position LIMIT $4""",
        code, year, int(after or 0), limit + 1)
    items = [{**{k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in dict(r).items() if k != "position"}}
             for r in rows[:limit]]
    return {"items": items, "next_cursor": _next(rows[limit - 1]["position"]) if len(rows) > limit else None}
