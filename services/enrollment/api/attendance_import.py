"""HTTP route: a session's attendance imported from a CSV file (a raw body or a multipart upload),
all or nothing — every row valid or nothing written, bad rows reported by line. English or Chinese
headers; UTF-8 or GB18030 (how Excel in China saves CSV). Recording a date already recorded
replaces it, as a single attendance record does.

Who may act: the project's host (role host, org = host id) or an admin whose subtree holds the
project's organizer.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response

from services.enrollment.api.inputs import CSV_UPLOAD_BODY, csv_text
from services.enrollment.api.replies import AttendanceImported
from services.enrollment.domain.attendance_import import Row
from services.enrollment.handlers import import_attendance as import_attendance_handler
from services.enrollment.handlers.access import ADMINS
from services.enrollment.titles import problem
from shared.auth import require_role
from shared.csvrows import csv_rows
from shared.unit_of_work import Command

router = APIRouter(tags=["enrollments"])
_COLUMNS = {"enrollment_id": "enrollment_id", "报名编号": "enrollment_id", "报名id": "enrollment_id",
            "teacher_id": "teacher_id", "教师编号": "teacher_id", "教师id": "teacher_id",
            "session_date": "session_date", "日期": "session_date", "培训日期": "session_date",
            "status": "status", "出勤状态": "status", "状态": "status", "hours": "hours", "学时": "hours"}
_STATUSES = {"present": "present", "出勤": "present", "出席": "present", "absent": "absent", "缺勤": "absent",
             "leave": "leave", "请假": "leave"}
MAX_IMPORT_BYTES, MAX_IMPORT_ROWS = 5 * 1024 * 1024, 5000


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid(raw: dict[str, str], key: str) -> str | None:
    value = raw.get(key)
    if not value:
        return None
    if _CANONICAL_UUID.fullmatch(value):  # already as str(uuid.UUID(value)) spells it
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{key} is not a UUID") from None


def _csv_row(line: int, raw: dict[str, str]) -> Row:
    enrollment_id, teacher_id = _uuid(raw, "enrollment_id"), _uuid(raw, "teacher_id")
    if enrollment_id is None and teacher_id is None:
        raise ValueError("enrollment_id or teacher_id is required")
    try:
        session_date = date.fromisoformat(raw.get("session_date", "").replace("/", "-"))
    except ValueError:
        raise ValueError("session_date must be a date YYYY-MM-DD") from None
    status = _STATUSES.get(raw.get("status", "").lower())
    if status is None:
        raise ValueError("status must be present, absent or leave (出勤/缺勤/请假)")
    try:
        hours = float(raw.get("hours", ""))
    except ValueError:
        hours = -1.0
    if not 0 <= hours <= 24:
        raise ValueError("hours must be a number from 0 to 24")
    return Row(line, enrollment_id, teacher_id, session_date, status, hours)


def parse_attendance_csv(text: str) -> tuple[list[Row], list[dict[str, Any]]]:
    """(line, row) pairs and per-line errors; English or Chinese headers (报名编号, 教师编号, 日期, 出勤状态, 学时)."""
    columns, cells = csv_rows(text, _COLUMNS, MAX_IMPORT_ROWS)
    missing = {"session_date", "status", "hours"} - columns
    if not {"enrollment_id", "teacher_id"} & columns:
        missing.add("enrollment_id or teacher_id")
    if missing:
        raise problem("bad_csv", f"missing columns: {', '.join(sorted(missing))}", 422)
    rows: list[Row] = []
    errors: list[dict[str, Any]] = []
    for line, raw in cells:
        try:
            rows.append(_csv_row(line, raw))
        except ValueError as e:
            errors.append({"line": line, "reason": str(e)})
    return rows, errors


@router.post("/v1/projects/{project_id}/attendance/import", openapi_extra=CSV_UPLOAD_BODY,
             summary="Import attendance from CSV, all or nothing", response_model=AttendanceImported)
async def import_attendance(project_id: uuid.UUID, request: Request, cmd: Command) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    rows, unreadable = parse_attendance_csv(await csv_text(request, MAX_IMPORT_BYTES))
    return await cmd.run(lambda uow: import_attendance_handler.handle(uow, project_id, rows, unreadable))
