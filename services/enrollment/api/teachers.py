"""HTTP routes: the teacher roster — register one teacher, import a county's spreadsheet, read.

National ID numbers arrive here and go no further than pii.py: events carry the teacher id,
responses and problems the masked form (610102********123X) or a rule's name, never the number.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.enrollment import pii
from services.enrollment.api.inputs import CSV_UPLOAD_BODY
from services.enrollment.domain import roster
from services.enrollment.handlers import import_teachers as import_handler
from services.enrollment.handlers import register_teacher as register_handler
from services.enrollment.handlers.access import require
from services.enrollment.titles import problem
from shared.auth import Authenticated, require_role, require_within
from shared.clock import Today
from shared.inputs import IsoDateAnyYear
from shared.unit_of_work import Command

router = APIRouter(tags=["teachers"])

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


@router.post("/v1/teachers", status_code=201, response_model=TeacherPublic, summary="Register a teacher")
async def register_teacher(body: TeacherCreate, request: Request, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *ROSTER_ADMINS)
    require_within(cmd.principal, body.school_code.strip())
    vault = pii.vault_for(request.app.state)
    return await cmd.run(lambda uow: register_handler.handle(uow, vault, body.model_dump(), today))


_TOO_BIG = problem("payload_too_large", f"at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB per import", 413)
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
            raise problem("csv_missing_file", "send the CSV in a form field named file", 422)
        data = upload.encode() if isinstance(upload, str) else await upload.read()
        await form.close()
    elif media in CSV_TYPES:
        data = body
    else:
        raise problem("unsupported_media_type", "send text/csv, or multipart/form-data with a file field", 415)
    if len(data) > MAX_IMPORT_BYTES:
        raise _TOO_BIG
    return data


@router.post("/v1/teachers/import", status_code=201, response_model=ImportResult, openapi_extra=CSV_UPLOAD_BODY,
             summary="Import a roster CSV: every row is valid and written, or nothing is")
async def import_teachers(request: Request, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *ROSTER_ADMINS)
    vault = pii.vault_for(request.app.state)
    headings, rows = roster.read_roster_csv(await _csv_bytes(request), MAX_IMPORT_ROWS)
    return await cmd.run(lambda uow: import_handler.handle(uow, vault, headings, rows, today))


@router.get("/v1/teachers/{teacher_id}", response_model=TeacherPublic)
async def get_teacher(teacher_id: uuid.UUID, request: Request, principal: Authenticated) -> JSONResponse:
    require_role(principal, *ROSTER_ADMINS, "auditor", "teacher", "service")
    row = await request.app.state.pool.fetchrow(
        """SELECT t.id, i.name, i.national_id_masked, t.school_code, t.subject, t.stage, t.title, t.hired_on,
                  t.version
           FROM teachers t LEFT JOIN teacher_identities i ON i.teacher_id = t.id WHERE t.id = $1""", teacher_id)
    require(principal.role != "teacher" or principal.sub == str(teacher_id), "teachers read only their own record")
    if row is None:
        raise problem("teacher_not_found", f"teacher {teacher_id} is unknown", 404)
    if principal.role != "teacher":
        require_within(principal, row["school_code"])
    out = TeacherPublic(**dict(row)).model_dump(mode="json")
    return JSONResponse(out, headers={"ETag": f'"{row["version"]}"'})
