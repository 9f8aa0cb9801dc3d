"""HTTP routes: the funding read models of an org and year (admins and auditors within their
subtree, and `service`).

- GET /v1/orgs/{code}/funding?year=&as_of= — budget, received, allocated, spent, available;
  funding ratio, payroll share, pass-down share; the policy in force with one verdict per rule
  (threshold, exact compliant flag, the rule's source); the subtree rolled up.
- GET /v1/orgs/{code}/funding/projects?year= (extension) — spending per participant per project
  over the subtree: spent ÷ participants checked in from the subtree, rounded ROUND_HALF_EVEN
  to whole fen.
- GET /v1/orgs/{code}/funding/entries?year= (extension) — the org's ledger in recorded order
  (the store's order of the events that wrote the entries): allocations made and received,
  disbursements, settlements, reversals (negative amounts).
Lists take `limit` (1–500) and an opaque `cursor`, and return {items, next_cursor}.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Query, Request

from services.funding.api import readmodel
from services.funding.api.common import READERS, after, cursor_after
from services.funding.api.models import LedgerEntryPage, OrgFunding, ProjectSpendingPage
from services.funding.titles import problem
from shared.auth import Authenticated, Principal, require_role, require_within
from shared.inputs import IsoDate
from shared.orgs import subtree_prefix
from shared.orgtree import subtree_sql

router = APIRouter(tags=["funding"])
CodeParam = Annotated[str, Path(min_length=6, max_length=12, pattern=r"^[0-9]+$")]
YearQuery = Annotated[int, Query(ge=2000, le=2100)]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]


async def _org(request: Request, principal: Principal, code: str) -> asyncpg.Record:
    require_role(principal, *READERS)
    require_within(principal, code)
    row = await request.app.state.pool.fetchrow("SELECT code, name, kind FROM orgs WHERE code = $1", code)
    if row is None:
        raise problem("org_not_found", f"org {code} is not registered", 404)
    return row


@router.get("/v1/orgs/{code}/funding", summary="Funding ratios and compliance of an org for a year",
            response_model=OrgFunding)
async def get_funding(code: CodeParam, request: Request, principal: Authenticated, year: YearQuery,
                      as_of: IsoDate | None = Query(None, description="judge under the policy in force on this day; "
                                                                   "default 31 December of the year")
                      ) -> Any:
    org = await _org(request, principal, code)
    async with request.app.state.pool.acquire() as conn:
        return await readmodel.funding(conn, org, year, as_of)


_PROJECTS = f"""
WITH spend AS (
    SELECT project_id, sum(amount_fen) AS spent_fen FROM funding_entries
    WHERE ledger = 'spending' AND year = $3 AND project_id IS NOT NULL AND {subtree_sql("org_code", "$1", "$2")}
    GROUP BY project_id
)
SELECT s.project_id, s.spent_fen, p.code, p.name, p.host_id,
       (SELECT count(DISTINCT c.teacher_id) FROM checkins c LEFT JOIN teachers t ON t.id = c.teacher_id
        WHERE c.project_id = s.project_id AND {subtree_sql("coalesce(t.school_code, c.region_code)", "$1", "$2")})
           AS participants
FROM spend s LEFT JOIN projects p ON p.id = s.project_id
WHERE s.project_id::text > $4 ORDER BY s.project_id::text LIMIT $5
"""


def _per_participant(spent: int, participants: int) -> int | None:
    if participants <= 0:
        return None
    q, r = divmod(spent, participants)
    return q + 1 if 2 * r > participants or (2 * r == participants and q % 2 == 1) else q  # ROUND_HALF_EVEN


@router.get("/v1/orgs/{code}/funding/projects", summary="Spending per participant per project (subtree)",
            response_model=ProjectSpendingPage)
async def get_projects(code: CodeParam, request: Request, principal: Authenticated, year: YearQuery,
                       limit: Limit = 50, cursor: Cursor = None) -> Any:
    await _org(request, principal, code)
    rows = await request.app.state.pool.fetch(_PROJECTS, code, subtree_prefix(code), year, after(cursor), limit + 1)
    items = [{"project_id": str(r["project_id"]), "code": r["code"], "name": r["name"],
              "host_id": str(r["host_id"]) if r["host_id"] else None, "spent_fen": int(r["spent_fen"]),
              "participants": r["participants"],
              "spent_per_participant_fen": _per_participant(int(r["spent_fen"]), r["participants"])}
             for r in rows[:limit]]
    return {"items": items, "next_cursor": cursor_after(items[-1]["project_id"]) if len(rows) > limit else None}


# The recorded order is the store's: each entry names the event that wrote it (projector/entries.py).
_ENTRIES = """
SELECT f.entry_id, f.kind, f.ledger, f.org_code, f.to_code, f.year, f.project_id, f.host_id, f.amount_fen, f.purpose,
       f.reverses, f.detail, e.position
FROM funding_entries f JOIN events e ON e.stream_id = f.stream_id AND e.version = f.stream_version
WHERE f.year = $2 AND (f.org_code = $1 OR f.to_code = $1) AND e.position > $3 ORDER BY e.position LIMIT $4
"""


@router.get("/v1/orgs/{code}/funding/entries", summary="An org's ledger entries for a year",
            response_model=LedgerEntryPage)
async def get_entries(code: CodeParam, request: Request, principal: Authenticated, year: YearQuery,
                      limit: Limit = 50, cursor: Cursor = None) -> Any:
    await _org(request, principal, code)
    position = after(cursor)
    if position and not (position.isascii() and position.isdigit() and len(position) <= 18):
        raise problem("bad_cursor", "pass next_cursor back unchanged", 422)
    rows = await request.app.state.pool.fetch(_ENTRIES, code, year, int(position or 0), limit + 1)
    items = [{k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in dict(r).items() if k != "position"}
             for r in rows[:limit]]
    return {"items": items, "next_cursor": cursor_after(rows[limit - 1]["position"]) if len(rows) > limit else None}
