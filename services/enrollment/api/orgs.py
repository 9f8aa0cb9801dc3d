"""HTTP routes: the org tree (PUT/GET /v1/orgs) and host institutions (PUT/GET /v1/hosts).

Both are upserts keyed by the caller's id (the GB/T 2260 code, the host's UUID): 201 on the
first registration, 200 on a rename, 200 with the unchanged ETag on an identical repeat.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from services.enrollment.domain.orgs import (
    Host,
    Org,
    decide_register_host,
    decide_register_org,
    evolve_host,
    evolve_org,
)
from services.enrollment.projector import record
from shared.aggregate import load_state
from shared.auth import Authenticated, Principal, can_read, org_within, require_role, require_within
from shared.commands import Command, CommandContext
from shared.eventstore import ConcurrencyError
from shared.inputs import SINGLE_LINE
from shared.inputs import Text as OneLine
from shared.problems import Problem
from shared.refusal import Refused

router = APIRouter(tags=["orgs"])

ORG_ADMINS = ("province_admin", "city_admin", "county_admin")
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SINGLE_LINE]
CodeParam = Annotated[OneLine, Path(min_length=1, max_length=12)]

TITLES = {
    "invalid_org_code": "机构代码无效 Invalid org code",
    "invalid_parent": "上级机构不符 Invalid parent org",
    "parent_not_found": "上级机构未登记 Parent org not registered",
    "org_immutable": "机构类型与上级不可更改 Org kind and parent are fixed",
    "province_not_found": "省份未登记 Province not registered",
    "host_immutable": "承办单位所属省份不可更改 Host province is fixed",
    "teacher_exists": "教师已登记 Teacher already registered",
    "school_not_found": "学校未登记 School not registered",
}


def refusal(exc: Refused) -> Problem:
    return Problem(exc.status, exc.code, TITLES.get(exc.code, "操作被拒绝 Refused"), exc.message)


def expected_version(cmd: CommandContext, stream_id: str, version: int) -> int:
    """The version to append at; a stale If-Match becomes the kernel's 412."""
    wanted = cmd.if_match()
    if wanted is not None and wanted != version:
        raise ConcurrencyError(stream_id, wanted, version)
    return version


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


class OrgPage(BaseModel):
    items: list[OrgPublic]
    next_cursor: str | None


class HostCreate(BaseModel):
    name: Text
    province_code: OneLine = Field(min_length=6, max_length=6)


class HostPublic(BaseModel):
    host_id: uuid.UUID
    name: str
    province_code: str
    version: int


async def load_org(conn: asyncpg.Connection, code: str | None) -> Org | None:
    """An org from the query table (kept in step with its stream in the same transaction)."""
    if code is None:
        return None
    row = await conn.fetchrow("SELECT code, name, kind, parent_code FROM orgs WHERE code = $1", code)
    return Org(row["code"], row["name"], row["kind"], row["parent_code"]) if row else None


@router.put("/v1/orgs/{code}", response_model=OrgPublic, status_code=201, summary="Register or rename an org",
            responses={200: {"model": OrgPublic, "description": "renamed, or an identical repeat"}})
async def put_org(code: CodeParam, body: OrgCreate, cmd: Command):
    require_role(cmd.principal, *ORG_ADMINS)
    require_within(cmd.principal, code)  # a province registers itself; others only inside their subtree
    stream_id = f"org-{code}"
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        state, version = await load_state(tx.conn, cmd.store, stream_id, evolve_org, None)
        expected = expected_version(cmd, stream_id, version)
        wanted = Org(code, body.name, body.kind, body.parent_code)
        try:
            events = decide_register_org(state, wanted, await load_org(tx.conn, body.parent_code))
        except Refused as exc:
            raise refusal(exc) from None
        await record(tx.conn, cmd.store, stream_id, expected, events, tx.metadata)
        now = version + len(events)
        out = OrgPublic(code=code, name=body.name, kind=body.kind, parent_code=body.parent_code, version=now)
        return await tx.respond(201 if version == 0 else 200, out.model_dump(mode="json"),
                                headers={"ETag": f'"{now}"', "Location": f"/v1/orgs/{code}"})


@router.get("/v1/orgs/{code}", response_model=OrgPublic)
async def get_org(code: CodeParam, request: Request, principal: Authenticated):
    require_within(principal, code)
    row = await request.app.state.pool.fetchrow(
        "SELECT code, name, kind, parent_code, version FROM orgs WHERE code = $1", code)
    if row is None:
        raise Problem(404, "org_not_found", "机构未登记 Org not found", f"org {code} is not registered")
    return _with_etag(OrgPublic(**dict(row)), row["version"])


_SUBTREE = """
WITH RECURSIVE sub AS (
    SELECT code FROM orgs WHERE code = $1
    UNION ALL SELECT o.code FROM orgs o JOIN sub ON o.parent_code = sub.code
)
SELECT code, name, kind, parent_code, version FROM orgs
WHERE ($1::text IS NULL OR code IN (SELECT code FROM sub)) AND code > $2 ORDER BY code LIMIT $3
"""


@router.get("/v1/orgs", response_model=OrgPage, summary="Children of an org, or the caller's whole subtree")
async def list_orgs(request: Request, principal: Authenticated,
                    parent_code: OneLine | None = Query(None, max_length=12),
                    limit: int = Query(50, ge=1, le=500), cursor: str | None = Query(None, max_length=100)):
    after = _decode_cursor(cursor)
    pool = request.app.state.pool
    if parent_code is not None:
        require_within(principal, parent_code)
        rows = await pool.fetch("SELECT code, name, kind, parent_code, version FROM orgs"
                                " WHERE parent_code = $1 AND code > $2 ORDER BY code LIMIT $3",
                                parent_code, after, limit + 1)
    else:
        root = _list_root(principal)
        rows = await pool.fetch(_SUBTREE, root, after, limit + 1)
    items = [OrgPublic(**dict(r)) for r in rows[:limit]]
    more = len(rows) > limit
    return OrgPage(items=items, next_cursor=_encode_cursor(items[-1].code) if more else None)


def _list_root(principal: Principal) -> str | None:
    if principal.role == "service":
        return None  # everything
    if not can_read(principal, principal.org or ""):
        raise Problem(403, "forbidden_role", "角色无权操作 Role not permitted", "org lists are for administrators")
    return principal.org


def _encode_cursor(code: str) -> str:
    return base64.urlsafe_b64encode(code.encode()).decode()


def _decode_cursor(cursor: str | None) -> str:
    if not cursor:
        return ""
    try:
        return base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Problem(422, "bad_cursor", "分页游标无效 Invalid cursor", "pass next_cursor back unchanged") from None


def _with_etag(model: BaseModel, version: int) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), headers={"ETag": f'"{version}"'})


def _may_administer_host(principal: Principal, province_code: str) -> bool:
    return principal.role == "province_admin" and principal.org == province_code


@router.put("/v1/hosts/{host_id}", response_model=HostPublic, status_code=201,
            responses={200: {"model": HostPublic, "description": "renamed, or an identical repeat"}},
            summary="Register or rename a host institution (承办单位)")
async def put_host(host_id: uuid.UUID, body: HostCreate, cmd: Command):
    require_role(cmd.principal, "province_admin")
    if not _may_administer_host(cmd.principal, body.province_code):
        raise Problem(403, "out_of_scope", "超出管辖范围 Out of scope",
                      f"province {body.province_code} is outside this principal's jurisdiction")
    stream_id = f"host-{host_id}"
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        state, version = await load_state(tx.conn, cmd.store, stream_id, evolve_host, None)
        if state is not None and not _may_administer_host(cmd.principal, state.province_code):
            raise Problem(403, "out_of_scope", "超出管辖范围 Out of scope",
                          "this host belongs to another province")
        expected = expected_version(cmd, stream_id, version)
        wanted = Host(str(host_id), body.name, body.province_code)
        try:
            events = decide_register_host(state, wanted, await load_org(tx.conn, body.province_code))
        except Refused as exc:
            raise refusal(exc) from None
        await record(tx.conn, cmd.store, stream_id, expected, events, tx.metadata)
        now = version + len(events)
        out = HostPublic(host_id=host_id, name=body.name, province_code=body.province_code, version=now)
        return await tx.respond(201 if version == 0 else 200, out.model_dump(mode="json"),
                                headers={"ETag": f'"{now}"', "Location": f"/v1/hosts/{host_id}"})


@router.get("/v1/hosts/{host_id}", response_model=HostPublic)
async def get_host(host_id: uuid.UUID, request: Request, principal: Authenticated):
    require_role(principal, "province_admin", "city_admin", "county_admin", "school_admin", "auditor", "host",
                 "service")
    row = await request.app.state.pool.fetchrow(
        "SELECT id AS host_id, name, province_code, version FROM hosts WHERE id = $1", host_id)
    if row is None:
        raise Problem(404, "host_not_found", "承办单位未登记 Host not found", f"host {host_id} is not registered")
    # Everyone in the host's province nominates teachers to its projects, so admins anywhere in
    # the province (and above it) read it; a host reads only itself.
    if principal.role == "host":
        allowed = principal.org == str(host_id)
    else:
        allowed = can_read(principal, row["province_code"]) or (
            principal.org is not None and org_within(principal.org, row["province_code"]))
    if not allowed:
        raise Problem(403, "out_of_scope", "超出管辖范围 Out of scope", "this host is outside your jurisdiction")
    return _with_etag(HostPublic(**dict(row)), row["version"])
