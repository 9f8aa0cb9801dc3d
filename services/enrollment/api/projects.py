"""HTTP routes: training projects. Who may act (admins act only inside their subtree, DOMAIN.md):
- "organize": admins whose org contains organizer_code draft, submit, open, start, close, cancel,
  allocate quotas; "report": bulletins, by those or by the project's host (role host, org = host id);
- "approve" (方案审核备案, 004 §3.2) is review by someone else: an admin of a *proper* ancestor of
  the organizer, or — no national org being in the tree — a province_admin for a project its own
  province organizes; other self-approval is 403 `self_approval`.
Every authenticated role reads; a host sees only its own projects.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from services.enrollment.domain import project as domain
from services.enrollment.domain.rules import DEFAULT_RULES, ProjectRules
from services.enrollment.projector import record
from services.enrollment.projector.projects import list_project_rows, load_project_detail
from shared.aggregate import load_state
from shared.auth import Authenticated, Principal, org_within, require_role
from shared.commands import Command
from shared.eventstore import ConcurrencyError
from shared.inputs import IsoDate, Note
from shared.inputs import Text as OneLine
from shared.problems import Problem
from shared.refusal import Refused

router = APIRouter(tags=["projects"])
ADMINS = ("province_admin", "city_admin", "county_admin", "school_admin")
Num = Annotated[float, Field(allow_inf_nan=False)]
Text = Annotated[OneLine, Field(min_length=1, max_length=200)]
Level = Literal["national", "provincial", "municipal", "county", "school"]
Act = Literal["organize", "approve", "report"]


def problem(e: Refused) -> Problem:
    return Problem(e.status, e.code, domain.TITLES.get(e.code, "请求被拒绝 Refused"), e.message)


# async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
async def shanghai_today() -> date:  # the calendar day 004's deadlines count in; tests override it
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def project_rules() -> ProjectRules:  # the one place to load a province's own values later
    return DEFAULT_RULES


Today = Annotated[date, Depends(shanghai_today)]
Rules = Annotated[ProjectRules, Depends(project_rules)]


class ModuleIn(BaseModel):
    name: Text
    hours: Num
    practical: bool = False
    kind: OneLine = Field("general", min_length=1, max_length=32, description='"ethics" marks the 师德 module')


class ProjectBase(BaseModel):
    code: OneLine = Field(min_length=1, max_length=64)
    name: Text
    level: Level
    category: Text
    year: int = Field(ge=2000, le=2100)
    host_id: uuid.UUID | None = None
    organizer_code: OneLine = Field(min_length=1, max_length=32)
    hours: Num
    hour_category: OneLine = Field(min_length=1, max_length=32)
    starts_on: IsoDate
    ends_on: IsoDate
    cross_year: bool = False
    first_year_ends_on: IsoDate | None = None
    practical_ratio: Num
    modules: list[ModuleIn] = Field(default_factory=list, max_length=100)


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


class ProjectPublic(ProjectBase):
    id: uuid.UUID
    status: str  # drafted, plan_submitted, approved, open, started, closed, cancelled
    version: int


class ProjectDetail(ProjectPublic):
    quotas: list[dict[str, Any]]  # region_code, places, used
    bulletins: list[dict[str, Any]]  # issue_no, title, published_on


class ProjectPage(BaseModel):
    items: list[ProjectPublic]
    next_cursor: str | None


def authorize(p: Principal, plan: domain.DraftProject, act: Act) -> None:
    if act == "report" and p.role == "host" and p.org == plan.host_id:
        return
    if p.role == "host":
        raise Refused("out_of_scope", "only this project's host submits its bulletins", 403)
    if not (p.org and org_within(plan.organizer_code, p.org)):
        raise Refused("out_of_scope", f"org {plan.organizer_code} is outside this principal's org {p.org}", 403)
    if act == "approve" and plan.organizer_code == p.org and not (p.role == "province_admin" and p.org[2:] == "0000"):
        raise Refused("self_approval", "a plan is approved by a higher-level administration", 403)


async def _command(cmd: Command, project_id: uuid.UUID | str, decide: Callable[[domain.ProjectState], domain.Events],
                   status: int, body: dict[str, Any], act: Act,
                   check: Callable[[Any, domain.ProjectState], Awaitable[None]] | None = None,
                   new: domain.DraftProject | None = None) -> Response:
    """Load → authorize → If-Match → reference checks → decide → record, in one transaction."""
    stream = f"project-{project_id}"
    try:
        async with cmd.begin() as tx:
            if tx.replay:
                return tx.replay
            state, version = await load_state(tx.conn, cmd.store, stream, domain.evolve, domain.ProjectState())
            if version == 0 and new is None:
                raise Refused("project_not_found", f"no project {project_id}", 404)
            authorize(cmd.principal, new or state.plan, act)
            expected = cmd.if_match()
            if expected is not None and expected != version:
                raise ConcurrencyError(stream, expected, version)  # 412 via shared/service.py
            if check is not None:
                await check(tx.conn, state)
            events = decide(state)
            await record(tx.conn, cmd.store, stream, version, events, tx.metadata)
            v = version + len(events)
            headers = {"ETag": f'"{v}"'} | ({"Location": f"/v1/projects/{project_id}"} if new else {})
            return await tx.respond(status, {**body, "version": v}, headers=headers)
    except Refused as e:
        raise problem(e) from None


@router.post("/v1/projects", status_code=201)
async def draft_project(body: ProjectCreate, cmd: Command, rules: Rules) -> Response:
    require_role(cmd.principal, *ADMINS)
    project_id = str(uuid.uuid4())
    draft = body.to_command(project_id)

    async def known_org_and_host(conn: Any, _: domain.ProjectState) -> None:  # 422: they are named in the body
        if not await conn.fetchval("SELECT true FROM orgs WHERE code = $1", body.organizer_code):
            raise Refused("org_not_found", f"no org {body.organizer_code}", 422)
        if body.host_id and not await conn.fetchval("SELECT true FROM hosts WHERE id = $1", body.host_id):
            raise Refused("host_not_found", f"no host {body.host_id}", 422)

    return await _command(cmd, project_id, lambda s: domain.decide_draft(s, draft, rules), 201, {"id": project_id},
                          "organize", check=known_org_and_host, new=draft)


def _lifecycle(action: str, decide: Callable[..., domain.Events], act: Act) -> None:
    async def endpoint(project_id: uuid.UUID, cmd: Command, today: Today, rules: Rules) -> Response:
        require_role(cmd.principal, *ADMINS)
        args = (today, rules) if decide is domain.decide_submit_plan else (today,)  # the one with rule values
        return await _command(cmd, project_id, lambda s: decide(s, *args), 200,
                              {"id": str(project_id), "action": action}, act)

    router.add_api_route(f"/v1/projects/{{project_id}}/{action}", endpoint, methods=["POST"], name=f"{action}_project")


_lifecycle("submit-plan", domain.decide_submit_plan, "organize")
_lifecycle("approve", domain.decide_approve, "approve")
for _action, _decide in (("open", domain.decide_open), ("start", domain.decide_start), ("close", domain.decide_close)):
    _lifecycle(_action, _decide, "organize")


@router.post("/v1/projects/{project_id}/cancel")
async def cancel_project(project_id: uuid.UUID, body: ProjectCancel, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *ADMINS)
    return await _command(cmd, project_id, lambda s: domain.decide_cancel(s, body.reason, today), 200,
                          {"id": str(project_id), "action": "cancel"}, "organize")


@router.put("/v1/projects/{project_id}/quotas/{region_code}")
async def allocate_quota(project_id: uuid.UUID, region_code: Annotated[OneLine, Path(min_length=1, max_length=32)],
                         body: QuotaSet, cmd: Command) -> Response:
    require_role(cmd.principal, *ADMINS)

    async def region_check(conn: Any, state: domain.ProjectState) -> None:
        kind = await conn.fetchval("SELECT kind FROM orgs WHERE code = $1", region_code)
        if kind is None:
            raise Refused("region_not_found", f"no org {region_code}", 404)
        if kind not in ("city", "county", "school"):  # DOMAIN.md: places go to cities/counties (and schools)
            raise Refused("region_kind_invalid", f"{region_code} is a {kind}", 422)
        if not org_within(region_code, state.plan.organizer_code):
            raise Refused("region_outside_organizer", f"{region_code} is not under {state.plan.organizer_code}", 422)

    return await _command(cmd, project_id, lambda s: domain.decide_allocate_quota(s, region_code, body.places), 200,
                          {"project_id": str(project_id), "region_code": region_code, "places": body.places},
                          "organize", check=region_check)


@router.post("/v1/projects/{project_id}/bulletins", status_code=201)
async def submit_bulletin(project_id: uuid.UUID, body: BulletinCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "host", *ADMINS)

    def decide(s: domain.ProjectState) -> domain.Events:
        return domain.decide_submit_bulletin(s, body.issue_no, body.title, body.published_on, today)

    return await _command(cmd, project_id, decide, 201, {"project_id": str(project_id), "issue_no": body.issue_no},
                          "report")


@router.get("/v1/projects/{project_id}", response_model=ProjectDetail)
async def get_project(project_id: uuid.UUID, p: Authenticated, request: Request, response: Response) -> Any:
    async with request.app.state.pool.acquire() as conn:
        found = await load_project_detail(conn, project_id)
    if found is None or (p.role == "host" and str(found[0]["host_id"]) != p.org):  # hosts see their own only
        raise problem(Refused("project_not_found", f"no project {project_id}", 404))
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
        raise Problem(400, "bad_cursor", "分页游标无效 Invalid cursor", "pass next_cursor back as given") from None
    return ProjectPage(items=[ProjectPublic.model_validate(dict(r)) for r in rows], next_cursor=nxt)
