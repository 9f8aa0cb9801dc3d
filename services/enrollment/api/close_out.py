"""HTTP routes: close-out materials (总结材料) a host delivers after a project (004 §3.3,
domain/close_out.py). POST by the project's host or an admin over its organizer (as bulletins);
GET by every signed-in role, a host only for its own projects (as the project itself)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.enrollment.domain.close_out import KINDS, MAX_COUNT
from services.enrollment.handlers import deliver_close_out
from services.enrollment.handlers.access import ADMINS
from services.enrollment.projector.models import Text
from services.enrollment.projector.projects import load_close_out
from shared.auth import Authenticated, require_role
from shared.clock import Today
from shared.refusal import Refused
from shared.unit_of_work import Command

router = APIRouter(tags=["projects"])
Kind = Literal["summary", "case", "course_video", "course_resource", "paper", "courseware", "teaching_design",
               "learner_work", "failed_list", "process_material"]
assert set(Kind.__args__) == set(KINDS)  # type: ignore[attr-defined]  # one list, in the domain


class MaterialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind = Field(description="; ".join(f"{k} {label}" for k, label in KINDS.items()))
    title: Text
    count: int = Field(1, ge=1, le=MAX_COUNT, description="items of this kind delivered under this title")
    reference: Text | None = Field(None, description="where they are: the platform's id or a URL")


class MaterialOut(BaseModel):
    material_id: uuid.UUID
    kind: str
    kind_label: str
    title: str
    count: int
    reference: str | None
    received_on: date


class MaterialList(BaseModel):
    project_id: uuid.UUID
    items: list[MaterialOut]


class MaterialDelivered(BaseModel):
    project_id: uuid.UUID
    material_id: uuid.UUID
    received_on: date = Field(description="the day the system received it (Asia/Shanghai): what deadlines judge")
    version: int = Field(description="the project stream's version (its ETag)")


@router.post("/v1/projects/{project_id}/close-out-materials", status_code=201, response_model=MaterialDelivered)
async def deliver_close_out_material(project_id: uuid.UUID, body: MaterialIn, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await cmd.run(lambda uow: deliver_close_out.handle(uow, project_id, body.kind, body.title, body.count,
                                                              body.reference, today))


@router.get("/v1/projects/{project_id}/close-out-materials", response_model=MaterialList)
async def list_materials(project_id: uuid.UUID, p: Authenticated, request: Request, response: Response) -> Any:
    async with request.app.state.pool.acquire() as conn:
        found = await load_close_out(conn, project_id)
    if found is None or (p.role == "host" and str(found[0]["host_id"]) != p.org):  # hosts see their own only
        raise Refused("project_not_found", f"no project {project_id}", 404)
    row, materials = found
    response.headers["ETag"] = f'"{row["version"]}"'
    return MaterialList(project_id=project_id, items=[MaterialOut(**dict(m), kind_label=KINDS[m["kind"]])
                                                      for m in materials])
