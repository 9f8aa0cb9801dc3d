"""HTTP routes: the teacher roster — register one teacher, import a county's spreadsheet, read.

National ID numbers arrive here and go no further than pii.py: events carry the teacher id,
responses and problems the masked form (610102********123X) or a rule's name, never the number.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.enrollment import pii
from services.enrollment.api.orgs import load_org, refusal
from services.enrollment.bulk import record_new_streams
from services.enrollment.domain import national_id, roster
from services.enrollment.domain.orgs import Org
from services.enrollment.projector import record
from services.enrollment.projector.roster import teachers_registered
from shared.aggregate import load_state
from shared.auth import Authenticated, can_read, require_role, require_within
from shared.commands import Command
from shared.inputs import IsoDateAnyYear
from shared.limits import UPLOAD
from shared.problems import Problem
from shared.refusal import Refused

router = APIRouter(tags=["teachers"])

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROSTER_ADMINS = ("school_admin", "county_admin", "city_admin", "province_admin")
MAX_IMPORT_BYTES = 20 * 1024 * 1024  # a 20 MB CSV is ~200,000 rows, far above a county's roster
MAX_IMPORT_ROWS = 50_000
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/vnd.ms-excel")
Short = Annotated[str, Field(max_length=200)]


class TeacherCreate(BaseModel):
    name: Short
    national_id: str = Field(max_length=40, repr=False, description="GB 11643-1999, 18 characters")
    school_code: Short
    subject: Short
    stage: Short
    title: Short | None = None
    hired_on: IsoDateAnyYear  # check_teacher bounds it, for the POST and the CSV alike


class TeacherPublic(BaseModel):
    id: uuid.UUID
    name: str | None
    national_id_masked: str | None
    school_code: str
    subject: str | None
    stage: str | None
    title: str | None
    hired_on: date | None
    version: int


class ImportResult(BaseModel):
    imported: int
    teacher_ids: list[uuid.UUID]


def today() -> date:
    return datetime.now(SHANGHAI).date()  # birth and hiring dates are calendar dates in China


def _public(teacher_id: uuid.UUID, row: roster.TeacherRow, version: int) -> dict:
    return TeacherPublic(id=teacher_id, name=row.name, national_id_masked=row.national_id.masked,
                         school_code=row.school_code, subject=row.subject, stage=row.stage, title=row.title,
                         hired_on=row.hired_on, version=version).model_dump(mode="json")


def _invalid(issues: list[dict], code: str, **extra) -> Problem:
    return Problem(422, code, "教师信息有误 Invalid teacher data", f"{len(issues)} problem(s) found",
                   errors=issues, **extra)


@router.post("/v1/teachers", status_code=201, response_model=TeacherPublic, summary="Register a teacher")
async def register_teacher(body: TeacherCreate, request: Request, cmd: Command):
    require_role(cmd.principal, *ROSTER_ADMINS)
    require_within(cmd.principal, body.school_code.strip())
    vault = pii.vault_for(request.app.state)
    row, issues = roster.check_teacher(body.model_dump(), today())
    if row is None:
        code = "invalid_national_id" if any(f == "national_id" for f, _ in issues) else "invalid_teacher"
        raise _invalid([{"field": f, "reason": r} for f, r in issues], code)
    teacher_id = uuid.uuid4()
    stream_id = f"teacher-{teacher_id}"
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        state, version = await load_state(tx.conn, cmd.store, stream_id, roster.evolve_teacher, None)
        try:
            events = roster.decide_register_teacher(state, str(teacher_id), row,
                                                    await load_org(tx.conn, row.school_code))
            await pii.claim_identities(tx.conn, vault, [(teacher_id, row.name, row.national_id)])
        except Refused as exc:
            raise refusal(exc) from None
        await record(tx.conn, cmd.store, stream_id, version, events, tx.metadata)
        now = version + len(events)
        return await tx.respond(201, _public(teacher_id, row, now),
                                headers={"ETag": f'"{now}"', "Location": f"/v1/teachers/{teacher_id}"})


_TOO_BIG = Problem(413, "payload_too_large", "文件过大 Payload too large",
                  f"at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB per import")
_FRAMING = 64 * 1024  # multipart boundaries and part headers around the file


async def _read_capped(request: Request) -> bytes:
    """The whole body, refusing early past the limit (a chunked upload has no Content-Length)."""
    limit = MAX_IMPORT_BYTES + _FRAMING
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TOO_BIG
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TOO_BIG
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette's cache: the idempotency hash and form() read it again
    return body


async def _csv_bytes(request: Request) -> bytes:
    body = await _read_capped(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if upload is None:
            raise Problem(422, "csv_missing_file", "缺少文件 Missing file", "send the CSV in a form field named file")
        data = upload.encode() if isinstance(upload, str) else await upload.read()
        await form.close()
    elif media in CSV_TYPES:
        data = body
    else:
        raise Problem(415, "unsupported_media_type", "不支持的媒体类型 Unsupported media type",
                      "send text/csv, or multipart/form-data with a file field")
    if len(data) > MAX_IMPORT_BYTES:
        raise _TOO_BIG
    return data


_IMPORT_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
}}} | UPLOAD


@router.post("/v1/teachers/import", status_code=201, response_model=ImportResult, openapi_extra=_IMPORT_BODY,
             summary="Import a roster CSV: every row is valid and written, or nothing is")
async def import_teachers(request: Request, cmd: Command):
    principal = cmd.principal
    require_role(principal, *ROSTER_ADMINS)
    vault = pii.vault_for(request.app.state)
    data = await _csv_bytes(request)
    try:
        headings, rows = roster.read_roster_csv(data, MAX_IMPORT_ROWS)
    except Refused as exc:
        raise Problem(exc.status, exc.code, "导入文件无效 Invalid import file", exc.message) from None
    issues: list[dict] = []

    def issue(line: int, fld: str, reason: str) -> None:
        issues.append({"line": line, "column": headings.get(fld, fld), "field": fld, "reason": reason})

    on = today()
    good: list[tuple[int, roster.TeacherRow]] = []
    keys: dict[bytes, int] = {}  # look-up hash → first line, for duplicates and registered checks
    schools: list[tuple[int, str]] = []
    for csv_row in rows:
        row, row_issues = roster.check_teacher(csv_row.values, on)
        for fld, reason in row_issues:
            issue(csv_row.line, fld, reason)
        bad = {fld for fld, _ in row_issues}
        if "school_code" not in bad:
            schools.append((csv_row.line, csv_row.values["school_code"].strip()))
        if "national_id" not in bad:
            key = vault.lookup(national_id.normalise(csv_row.values["national_id"]))
            if key in keys:
                issue(csv_row.line, "national_id", f"与第{keys[key]}行重复 duplicate of line {keys[key]}")
                continue
            keys[key] = csv_row.line
        if row is not None:
            good.append((csv_row.line, row))

    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        orgs = {r["code"]: Org(r["code"], r["name"], r["kind"], r["parent_code"]) for r in await tx.conn.fetch(
            "SELECT code, name, kind, parent_code FROM orgs WHERE code = ANY($1)", sorted({c for _, c in schools}))}
        for line, code in schools:
            if (reason := roster.school_issue(orgs.get(code))) is not None:
                issue(line, "school_code", reason)
            elif not can_read(principal, code):
                issue(line, "school_code", "学校不在管辖范围内 school is outside your jurisdiction")
        for key in await pii.registered(tx.conn, list(keys)):
            issue(keys[key], "national_id", "该教师已登记 teacher is already registered")
        if issues:
            issues.sort(key=lambda i: (i["line"], i["field"]))
            raise _invalid(issues, "invalid_rows", rows=len(rows))
        ids = [uuid.uuid4() for _ in good]
        streams = [(f"teacher-{tid}", roster.decide_register_teacher(None, str(tid), row, orgs[row.school_code]))
                   for tid, (_, row) in zip(ids, good, strict=True)]
        try:
            await pii.claim_identities(tx.conn, vault, [(tid, r.name, r.national_id)
                                                        for tid, (_, r) in zip(ids, good, strict=True)])
        except Refused as exc:  # registered concurrently since the check above
            raise refusal(exc) from None
        await record_new_streams(tx.conn, cmd.store, streams, tx.metadata, _project_teachers)
        return await tx.respond(201, {"imported": len(ids), "teacher_ids": [str(t) for t in ids]})


async def _project_teachers(conn, items) -> None:
    await teachers_registered(conn, [(version, data) for _, version, _, data in items])


@router.get("/v1/teachers/{teacher_id}", response_model=TeacherPublic)
async def get_teacher(teacher_id: uuid.UUID, request: Request, principal: Authenticated):
    require_role(principal, *ROSTER_ADMINS, "auditor", "teacher", "service")
    row = await request.app.state.pool.fetchrow(
        """SELECT t.id, i.name, i.national_id_masked, t.school_code, t.subject, t.stage, t.title, t.hired_on,
                  t.version
           FROM teachers t LEFT JOIN teacher_identities i ON i.teacher_id = t.id WHERE t.id = $1""", teacher_id)
    if principal.role == "teacher" and principal.sub != str(teacher_id):
        raise Problem(403, "out_of_scope", "超出管辖范围 Out of scope", "teachers read only their own record")
    if row is None:
        raise Problem(404, "teacher_not_found", "教师未登记 Teacher not found", f"teacher {teacher_id} is unknown")
    if principal.role != "teacher":
        require_within(principal, row["school_code"])
    out = TeacherPublic(**dict(row)).model_dump(mode="json")
    return JSONResponse(out, headers={"ETag": f'"{row["version"]}"'})
