"""GET /v1/reports/hosts (host ranking) and GET /v1/reports/projects/{id} (obligations)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.reporting import reads
from services.reporting.api.common import problem, scope_of
from services.reporting.api.models import HostRanking, ProjectObligations
from services.reporting.domain import obligations as obligations_doc
from services.reporting.domain import ranking as ranking_doc
from services.reporting.report_hosts import obligations, ranking
from shared.auth import Authenticated
from shared.clock import Today
from shared.inputs import IsoDate
from shared.orgs import org_within

router = APIRouter(tags=["reports"])


@router.get("/v1/reports/hosts", summary="Host ranking (承办单位综合排名)", response_model=HostRanking,
            description=ranking_doc.__doc__ + """
Admins rank the hosts of projects organised in their subtree; a host sees its own row, ranked
among all hosts; `as_of` (default: today, Asia/Shanghai) decides which bulletin deadlines have passed.""")
async def get_hosts(request: Request, principal: Authenticated, today: Today,
                    year: Annotated[int, Query(ge=2000, le=2100, description="项目年度 project year")],
                    as_of: IsoDate | None = None) -> Any:
    scope = scope_of(principal)
    async with request.app.state.pool.acquire() as conn:
        return await ranking(conn, year, scope.region, as_of or today, only_host=scope.host)


@router.get("/v1/reports/projects/{project_id}", summary="A project's obligations: bulletins, deadlines, "
            "failed learners", response_model=ProjectObligations, description=obligations_doc.__doc__ + """
The failed learners' list carries enrollment and teacher ids only: reporting holds no names
(events carry none). Authorised users get names from the enrollment service's roster
(`GET /v1/enrollments?project_id=`, `GET /v1/teachers/{id}`). An admin whose subtree holds the
organiser sees the whole project; one whose subtree only sent learners sees its own part.""")
async def get_project(request: Request, principal: Authenticated, project_id: uuid.UUID, today: Today,
                      as_of: IsoDate | None = None) -> Any:
    scope = scope_of(principal)
    async with request.app.state.pool.acquire() as conn:
        p = await reads.project(conn, project_id)
        if p is None or (scope.host is not None and str(p["host_id"]) != scope.host):
            raise problem("project_not_found", f"no project {project_id}", 404)  # hosts: their own only
        region = None
        if scope.region is not None and not org_within(p["organizer_code"], scope.region):
            if not any(org_within(r, scope.region) for r in await reads.project_regions(conn, project_id)):
                raise problem("out_of_scope", f"project {project_id} has no part in this reader's jurisdiction",
                              403)
            region = scope.region
        return await obligations(conn, p, as_of or today, region)
