"""HTTP routes: the org tree (PUT/GET /v1/orgs) and host institutions (PUT/GET /v1/hosts).

Both are upserts keyed by the caller's id (the GB/T 2260 code, the host's UUID): 201 on the
first registration, 200 on a rename, 200 with the unchanged ETag on an identical repeat.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from services.enrollment.api.inputs import CSV_UPLOAD_BODY, csv_text
from services.enrollment.domain import org_import
from services.enrollment.domain.orgs import Host, Org
from services.enrollment.handlers import import_orgs as import_orgs_handler
from services.enrollment.handlers import register_host, register_org
from services.enrollment.handlers.access import REGION_ADMINS, administers_host, require
from services.enrollment.titles import problem
from shared.auth import Authenticated, Principal, can_read, require_role, require_within
from shared.inputs import SINGLE_LINE
from shared.inputs import Text as OneLine
from shared.orgs import org_within, subtree_prefix
from shared.orgtree import subtree_sql
from shared.paging import Page, cursor_text, page_cursor
from shared.unit_of_work import Command

router = APIRouter(tags=["orgs"])

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SINGLE_LINE]
CodeParam = Annotated[OneLine, Path(min_length=1, max_length=12)]

class OrgCreate(BaseModel):
    name: Text
    kind: Literal["province", "city", "county", "school"]
    parent_code: OneLine | None = Field(default=None, min_length=1, max_length=12)


class OrgPublic(BaseModel):
    code: str
    name: str
    kind: str
    parent_code: str | None
    version: int


class OrgPage(Page[OrgPublic]):
    """A page of them (shared/paging.py Page)."""


class HostCreate(BaseModel):
    name: Text
    province_code: OneLine = Field(min_length=6, max_length=6)


class HostPublic(BaseModel):
    host_id: uuid.UUID
    name: str
    province_code: str
    version: int


@router.put("/v1/orgs/{code}", response_model=OrgPublic, status_code=201, summary="Register or rename an org",
            responses={200: {"model": OrgPublic, "description": "renamed, or an identical repeat"}})
async def put_org(code: CodeParam, body: OrgCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)
    require_within(cmd.principal, code)  # a province registers itself; others only inside their subtree
    return await cmd.run(lambda uow: register_org.handle(uow, Org(code, body.name, body.kind, body.parent_code)))


class OrgsImported(BaseModel):
    rows: int = Field(description="data rows in the file")
    registered: int = Field(description="orgs registered for the first time")
    renamed: int = Field(description="registered orgs whose row gave a new name")
    unchanged: int = Field(description="rows that repeat an org as registered")


MAX_IMPORT_BYTES, MAX_IMPORT_ROWS = 5 * 1024 * 1024, 20_000  # a province has ~10,000 schools


@router.post("/v1/orgs/import", response_model=OrgsImported, openapi_extra=CSV_UPLOAD_BODY,
             summary="Import orgs (a school list) from CSV: every row valid and written, or nothing is",
             description="Columns code and name (机构代码, 机构名称); kind and parent_code (类型, 上级代码) "
                         "are optional and follow from a GB/T 2260 code's shape. Parents may be rows of the "
                         "same file. Each row is judged as PUT /v1/orgs/{code} would judge it; a row that "
                         "repeats a registered org changes nothing, a new name renames it.")
async def import_orgs(request: Request, cmd: Command) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)
    rows, unreadable = org_import.read_org_csv(await csv_text(request, MAX_IMPORT_BYTES), MAX_IMPORT_ROWS)
    return await cmd.run(lambda uow: import_orgs_handler.handle(uow, rows, unreadable))


@router.get("/v1/orgs/{code}", response_model=OrgPublic)
async def get_org(code: CodeParam, request: Request, principal: Authenticated) -> JSONResponse:
    require_within(principal, code)
    row = await request.app.state.pool.fetchrow(
        "SELECT code, name, kind, parent_code, version FROM orgs WHERE code = $1", code)
    if row is None:
        raise problem("org_not_found", f"org {code} is not registered", 404)
    return _with_etag(OrgPublic(**dict(row)), row["version"])


# Registration keeps the tree to GB/T 2260 shapes (domain/orgs.expected_parents), so an org's
# subtree is its code prefix.
_SUBTREE = f"""
SELECT code, name, kind, parent_code, version FROM orgs
WHERE ($1::text IS NULL OR {subtree_sql("code", "$1", "$4")}) AND code > $2 ORDER BY code LIMIT $3
"""


@router.get("/v1/orgs", response_model=OrgPage, summary="Children of an org, or the caller's whole subtree")
async def list_orgs(request: Request, principal: Authenticated,
                    parent_code: OneLine | None = Query(None, max_length=12),
                    limit: int = Query(50, ge=1, le=500), cursor: str | None = Query(None, max_length=100)) -> OrgPage:
    after = cursor_text(cursor) if cursor else ""
    pool = request.app.state.pool
    if parent_code is not None:
        require_within(principal, parent_code)
        rows = await pool.fetch("SELECT code, name, kind, parent_code, version FROM orgs"
                                " WHERE parent_code = $1 AND code > $2 ORDER BY code LIMIT $3",
                                parent_code, after, limit + 1)
    else:
        root = _list_root(principal)
        rows = await pool.fetch(_SUBTREE, root, after, limit + 1, subtree_prefix(root) if root else None)
    items = [OrgPublic(**dict(r)) for r in rows[:limit]]
    more = len(rows) > limit
    return OrgPage(items=items, next_cursor=page_cursor(items[-1].code) if more else None)


def _list_root(principal: Principal) -> str | None:
    if principal.role == "service":
        return None  # everything
    if not can_read(principal, principal.org or ""):
        raise problem("forbidden_role", "org lists are for administrators", 403)
    return principal.org


def _with_etag(model: BaseModel, version: int) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), headers={"ETag": f'"{version}"'})


@router.put("/v1/hosts/{host_id}", response_model=HostPublic, status_code=201,
            responses={200: {"model": HostPublic, "description": "renamed, or an identical repeat"}},
            summary="Register or rename a host institution (承办单位)")
async def put_host(host_id: uuid.UUID, body: HostCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "province_admin")
    require(administers_host(cmd.principal, body.province_code),
            f"province {body.province_code} is outside this principal's jurisdiction")
    return await cmd.run(lambda uow: register_host.handle(uow, Host(str(host_id), body.name, body.province_code)))


@router.get("/v1/hosts/{host_id}", response_model=HostPublic)
async def get_host(host_id: uuid.UUID, request: Request, principal: Authenticated) -> JSONResponse:
    require_role(principal, "province_admin", "city_admin", "county_admin", "school_admin", "auditor", "host",
                 "service")
    row = await request.app.state.pool.fetchrow(
        "SELECT id AS host_id, name, province_code, version FROM hosts WHERE id = $1", host_id)
    if row is None:
        raise problem("host_not_found", f"host {host_id} is not registered", 404)
    # Everyone in the host's province nominates teachers to its projects, so admins anywhere in
    # the province (and above it) read it; a host reads only itself.
    if principal.role == "host":
        allowed = principal.org == str(host_id)
    else:
        allowed = can_read(principal, row["province_code"]) or (
            principal.org is not None and org_within(principal.org, row["province_code"]))
    require(allowed, "this host is outside your jurisdiction")
    return _with_etag(HostPublic(**dict(row)), row["version"])
