"""HTTP routes: reading enrollments — one (with its attendance, assessments and whether it was
evaluated) and a filtered, cursor-paged list.

Who may read: service; admins and auditors over the region; the teacher (own); the host (own projects).
"""

from __future__ import annotations

import base64
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from services.enrollment.handlers.access import require
from services.enrollment.projector.enrollments import list_enrollment_rows, load_enrollment_detail
from services.enrollment.titles import problem
from shared.auth import Authenticated, Principal, can_read
from shared.inputs import Text
from shared.orgs import subtree_prefix
from shared.paging import BAD_CURSOR, Page
from shared.yearnames import ProjectYearNamed

router = APIRouter(tags=["enrollments"])


class EnrollmentPublic(ProjectYearNamed):
    id: uuid.UUID
    project_id: uuid.UUID
    teacher_id: uuid.UUID
    region_code: str
    level: str
    category: str
    year: int = Field(description="项目年度: the project's calendar year")
    status: str
    nominated_on: date | None
    checked_in_on: date | None
    finished_on: date | None
    reason: str | None
    special_reason: bool | None
    barred_until_year: int | None
    version: int
    attendance: list[dict[str, Any]] = []
    assessments: list[dict[str, Any]] = []
    evaluated: bool = False


class EnrollmentPage(Page[EnrollmentPublic]):
    """A page of them (shared/paging.py Page)."""


def _may_read(pr: Principal, row: Any) -> bool:
    """The service, the teacher, the project's host, an admin over the nominating region, or the
    admin of the teacher's school (issue 20: a school follows its own teachers' training)."""
    return (pr.role == "service" or (pr.role == "teacher" and pr.sub == str(row["teacher_id"]))
            or (pr.role == "host" and pr.org == str(row["host_id"])) or can_read(pr, row["region_code"])
            or (pr.role == "school_admin" and pr.org is not None and pr.org == row["teacher_school"]))


@router.get("/v1/enrollments/{enrollment_id}", response_model=EnrollmentPublic)
async def get_enrollment(enrollment_id: uuid.UUID, request: Request, response: Response,
                         principal: Authenticated) -> EnrollmentPublic:
    async with request.app.state.pool.acquire() as conn:
        row = await load_enrollment_detail(conn, enrollment_id)
    if row is None:
        raise problem("enrollment_not_found", f"no enrollment {enrollment_id}", 404)
    require(_may_read(principal, row))
    response.headers["ETag"] = f'"{row["version"]}"'
    return EnrollmentPublic(**row)


def _uuid_or_nil(value: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return uuid.UUID(int=0)  # matches nothing: a malformed id claim sees no rows


@router.get("/v1/enrollments", response_model=EnrollmentPage)
async def list_enrollments(
    request: Request, principal: Authenticated, project_id: uuid.UUID | None = None,
    teacher_id: uuid.UUID | None = None, region_code: Annotated[Text | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
) -> EnrollmentPage:
    pr = principal
    scope: dict[str, Any] = {"scope_org": None, "scope_prefix": None, "scope_teacher": None, "scope_host": None}
    if pr.role == "school_admin":
        require(bool(pr.org), "this token carries no org")
        scope["scope_school"] = pr.org  # its teachers' enrollments, whichever region nominated them
    elif pr.role == "teacher":
        scope["scope_teacher"] = _uuid_or_nil(pr.sub)
    elif pr.role == "host":
        scope["scope_host"] = _uuid_or_nil(pr.org)
    elif pr.role != "service":
        org = pr.org or ""
        require(bool(org), "this token carries no org")
        scope.update(scope_org=org, scope_prefix=subtree_prefix(org))
    try:
        after = uuid.UUID(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else None
    except ValueError:
        raise problem("bad_cursor", BAD_CURSOR, 422) from None
    async with request.app.state.pool.acquire() as conn:
        rows = await list_enrollment_rows(conn, project_id=project_id, teacher_id=teacher_id, region_code=region_code,
                                          after=after, limit=limit + 1, **scope)
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = base64.urlsafe_b64encode(str(rows[-1]["id"]).encode()).decode()
    return EnrollmentPage(items=[EnrollmentPublic(**dict(r)) for r in rows if _may_read(pr, r)], next_cursor=nxt)
