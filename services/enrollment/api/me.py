"""HTTP routes: the teacher's own view (issue 15, "me" endpoints), the teacher being the token's
`sub`; role `teacher` only, every other role is 403 forbidden_role.

- GET /v1/me/enrollments: my enrollments with their project (name, dates, hours), status and
  dates, the latest project first, cursor-paged.
- Check-in from the app is the existing POST /v1/enrollments/{enrollment_id}/check-in, which
  already serves the teacher (handlers/access.py:checks_in: the teacher on the place, by `sub`;
  another teacher's enrollment is 403 out_of_scope; a repeat is a harmless 200), or, with the
  host's scanned session code, POST /v1/check-ins. The ids it needs are the `enrollment_id`s
  listed here; no second route or handler for the same command.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import Field

from services.enrollment.projector.enrollments import teacher_enrollment_rows
from services.enrollment.titles import problem
from shared.auth import Authenticated, require_role
from shared.paging import BAD_CURSOR, Page, cursor_text, page_cursor
from shared.yearnames import ProjectYearNamed

router = APIRouter(tags=["me"])


class MyEnrollment(ProjectYearNamed):
    enrollment_id: uuid.UUID
    project_id: uuid.UUID
    project_code: str
    project_name: str
    level: str
    category: str
    year: int = Field(description="项目年度: the project's calendar year")
    hours: float
    hour_category: str
    starts_on: date
    ends_on: date
    project_status: str
    region_code: str
    status: str  # nominated, checked_in, completed, failed, no_show, withdrawn
    nominated_on: date | None
    checked_in_on: date | None
    finished_on: date | None
    version: int  # the enrollment's ETag


class MyEnrollmentPage(Page[MyEnrollment]):
    """A page of them (shared/paging.py Page)."""


def _after(cursor: str | None) -> tuple[date, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        on, _, eid = cursor_text(cursor).partition("|")
        return date.fromisoformat(on), uuid.UUID(eid)
    except ValueError:
        raise problem("bad_cursor", BAD_CURSOR, 422) from None


@router.get("/v1/me/enrollments", response_model=MyEnrollmentPage, summary="My enrollments (the teacher's own)")
async def my_enrollments(request: Request, principal: Authenticated,
                         limit: Annotated[int, Query(ge=1, le=200)] = 50,
                         cursor: Annotated[str | None, Query(max_length=200)] = None) -> MyEnrollmentPage:
    require_role(principal, "teacher")
    after = _after(cursor)
    try:
        me = uuid.UUID(principal.sub)
    except ValueError:  # a teacher token whose sub is no teacher id holds no enrollments
        return MyEnrollmentPage(items=[], next_cursor=None)
    async with request.app.state.pool.acquire() as conn:
        rows = await teacher_enrollment_rows(conn, me, after, limit + 1)
    items = [MyEnrollment(enrollment_id=r["id"], **{k: v for k, v in dict(r).items() if k != "id"})
             for r in rows[:limit]]
    nxt = None
    if len(rows) > limit:  # limit ≥ 1: the page is full
        nxt = page_cursor(f"{items[-1].starts_on}|{items[-1].enrollment_id}")
    return MyEnrollmentPage(items=items, next_cursor=nxt)
