"""HTTP routes: training projects. Who may act (admins act only inside their subtree, DOMAIN.md),
checked by the handlers on the loaded project (handlers/access.project_act):
- "organize": admins whose org contains organizer_code draft, submit, open, start, close, cancel,
  allocate quotas; a city's own admin splits the city's quota among its counties (004 §2.2);
  "report": bulletins and close-out materials (api/close_out.py), by those or by the project's host
  (role host, org = host id);
- "approve" (方案审核备案, 004 §3.2) is review by someone else (domain/project_refs.check_reviewer).
Every authenticated role reads; a host sees only its own projects.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from services.enrollment.api.replies import BulletinRecorded, ProjectActed, ProjectDrafted, QuotaAllocated
from services.enrollment.domain import project as domain
from services.enrollment.handlers import allocate_quota as allocate_quota_handler
from services.enrollment.handlers import draft_project as draft_handler
from services.enrollment.handlers import project_lifecycle as lifecycle_handler
from services.enrollment.handlers import split_quota as split_quota_handler
from services.enrollment.handlers import submit_bulletin as bulletin_handler
from services.enrollment.handlers.access import ADMINS
from services.enrollment.projector.models import Level, ProjectBase, ProjectPublic, Text
from services.enrollment.projector.projects import list_project_rows, load_project_detail
from services.enrollment.titles import problem
from shared.auth import Authenticated, require_role
from shared.clock import Today
from shared.inputs import IsoDate, Note
from shared.inputs import Text as OneLine
from shared.paging import BAD_CURSOR, Page
from shared.refusal import Refused
from shared.unit_of_work import Command

router = APIRouter(tags=["projects"])


class ProjectCreate(ProjectBase):
    def to_command(self, project_id: str) -> domain.DraftProject:
        fields = self.model_dump(exclude={"modules", "host_id"})
        return domain.DraftProject(project_id=project_id, host_id=str(self.host_id) if self.host_id else None,
                                   modules=tuple(domain.Module(**m.model_dump()) for m in self.modules), **fields)


class ProjectCancel(BaseModel):
    reason: Note = Field(min_length=1, max_length=500)


class QuotaSet(BaseModel):
    places: int = Field(ge=0, le=1_000_000)


class BulletinCreate(BaseModel):
    issue_no: int = Field(ge=1, le=10_000)
    title: Text
    published_on: IsoDate


class ProjectDetail(ProjectPublic):
    quotas: list[dict[str, Any]]  # region_code, places, used, split (given to counties), split_from (the city)
    bulletins: list[dict[str, Any]]  # issue_no, title, published_on


class ProjectPage(Page[ProjectPublic]):
    """A page of them (shared/paging.py Page)."""


@router.post("/v1/projects", status_code=201, response_model=ProjectDrafted)
async def draft_project(body: ProjectCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *ADMINS)
    draft = body.to_command(str(uuid.uuid4()))
    return await cmd.run(lambda uow: draft_handler.handle(uow, draft, today))


def _lifecycle(action: str) -> None:
    # 004 §3.2 "各项目承担单位…将项目实施方案…报送": the host files its own plan, as the organizer may.
    roles = ("host", *ADMINS) if action == "submit-plan" else ADMINS

    async def endpoint(project_id: uuid.UUID, cmd: Command, today: Today) -> Response:
        require_role(cmd.principal, *roles)
        return await cmd.run(lambda uow: lifecycle_handler.handle(uow, project_id, action, today))

    router.add_api_route(f"/v1/projects/{{project_id}}/{action}", endpoint, methods=["POST"], name=f"{action}_project",
                         response_model=ProjectActed)


for _action in lifecycle_handler.ACTIONS:
    _lifecycle(_action)


@router.post("/v1/projects/{project_id}/cancel", response_model=ProjectActed)
async def cancel_project(project_id: uuid.UUID, body: ProjectCancel, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *ADMINS)
    return await cmd.run(lambda uow: lifecycle_handler.cancel(uow, project_id, body.reason, today))


@router.put("/v1/projects/{project_id}/quotas/{region_code}", response_model=QuotaAllocated)
async def allocate_quota(project_id: uuid.UUID, region_code: Annotated[OneLine, Path(min_length=1, max_length=32)],
                         body: QuotaSet, cmd: Command) -> Response:
    require_role(cmd.principal, *ADMINS)
    return await cmd.run(lambda uow: allocate_quota_handler.handle(uow, project_id, region_code, body.places))


class QuotaSplitDone(BaseModel):
    project_id: uuid.UUID
    city_code: str
    region_code: str = Field(description="the county given the places")
    places: int
    version: int = Field(description="the project stream's version (its ETag)")


@router.put("/v1/projects/{project_id}/quotas/{city_code}/splits/{county_code}",
            response_model=QuotaSplitDone)
async def split_quota(project_id: uuid.UUID, city_code: Annotated[OneLine, Path(min_length=1, max_length=32)],
                      county_code: Annotated[OneLine, Path(min_length=1, max_length=32)], body: QuotaSet,
                      cmd: Command) -> Response:
    """004 §2.2: a city gives one of its counties places out of its own quota; by the city's own
    admin only (a county does not split, another city's admin is out of scope)."""
    require_role(cmd.principal, "city_admin")
    if cmd.principal.org != city_code:
        raise Refused("out_of_scope", f"only the admins of {city_code} split its places", 403)
    return await cmd.run(lambda uow: split_quota_handler.handle(uow, project_id, city_code, county_code, body.places))


@router.post("/v1/projects/{project_id}/bulletins", status_code=201, response_model=BulletinRecorded)
async def submit_bulletin(project_id: uuid.UUID, body: BulletinCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await cmd.run(lambda uow: bulletin_handler.handle(uow, project_id, body.issue_no, body.title,
                                                             body.published_on, today))


@router.get("/v1/projects/{project_id}", response_model=ProjectDetail)
async def get_project(project_id: uuid.UUID, p: Authenticated, request: Request, response: Response) -> Any:
    async with request.app.state.pool.acquire() as conn:
        found = await load_project_detail(conn, project_id)
    if found is None or (p.role == "host" and str(found[0]["host_id"]) != p.org):  # hosts see their own only
        raise Refused("project_not_found", f"no project {project_id}", 404)
    row, quotas, bulletins = found
    response.headers["ETag"] = f'"{row["version"]}"'
    return ProjectDetail.model_validate(dict(row) | {"quotas": [dict(q) for q in quotas],
                                                     "bulletins": [dict(b) for b in bulletins]})


@router.get("/v1/projects", response_model=ProjectPage)
async def list_projects(p: Authenticated, request: Request, year: int | None = Query(None, ge=2000, le=2100),
                        level: Level | None = None,
                        region: OneLine | None = Query(None, min_length=1, max_length=32),
                        limit: int = Query(50, ge=1, le=500), cursor: str | None = None) -> Any:
    host = (p.org or "") if p.role == "host" else None  # a host lists only its own projects
    try:
        async with request.app.state.pool.acquire() as conn:
            rows, nxt = await list_project_rows(conn, year=year, level=level, region=region, host=host,
                                                cursor=cursor, limit=limit)
    except ValueError:
        raise problem("bad_cursor", BAD_CURSOR, 422) from None
    return ProjectPage(items=[ProjectPublic.model_validate(dict(r)) for r in rows], next_cursor=nxt)
