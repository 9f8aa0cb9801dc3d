"""HTTP route: a session's attendance imported from a CSV file (a raw body or a multipart upload),
all or nothing — every row valid or nothing written, bad rows reported by line. English or Chinese
headers; UTF-8 or GB18030 (how Excel in China saves CSV). Recording a date already recorded
replaces it, as a single attendance record does.

Who may act: the project's host (role host, org = host id) or an admin whose subtree holds the
project's organizer.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response

from services.enrollment.api._enrollment_common import ADMINS, load_project, problem, runner
from services.enrollment.domain import enrollment as domain
from services.enrollment.domain.enrollment import INITIAL, Enrollment, evolve
from services.enrollment.events import registry
from services.enrollment.projector.enrollments import project_many
from shared.aggregate import load_states
from shared.auth import require_role
from shared.commands import Command
from shared.limits import UPLOAD
from shared.problems import Problem
from shared.refusal import Refused

router = APIRouter(tags=["enrollments"])
_COLUMNS = {"enrollment_id": "enrollment_id", "报名编号": "enrollment_id", "报名id": "enrollment_id",
            "teacher_id": "teacher_id", "教师编号": "teacher_id", "教师id": "teacher_id",
            "session_date": "session_date", "日期": "session_date", "培训日期": "session_date",
            "status": "status", "出勤状态": "status", "状态": "status", "hours": "hours", "学时": "hours"}
_STATUSES = {"present": "present", "出勤": "present", "出席": "present", "absent": "absent", "缺勤": "absent",
             "leave": "leave", "请假": "leave"}
MAX_IMPORT_BYTES, MAX_IMPORT_ROWS = 5 * 1024 * 1024, 5000


def _csv_row(raw: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("enrollment_id", "teacher_id"):
        if raw.get(key):
            try:
                out[key] = uuid.UUID(raw[key])
            except ValueError:
                raise ValueError(f"{key} is not a UUID") from None
    if not out:
        raise ValueError("enrollment_id or teacher_id is required")
    try:
        out["session_date"] = date.fromisoformat(raw.get("session_date", "").replace("/", "-"))
    except ValueError:
        raise ValueError("session_date must be a date YYYY-MM-DD") from None
    out["status"] = _STATUSES.get(raw.get("status", "").lower())
    if out["status"] is None:
        raise ValueError("status must be present, absent or leave (出勤/缺勤/请假)")
    try:
        out["hours"] = float(raw.get("hours", ""))
    except ValueError:
        out["hours"] = None
    if out["hours"] is None or not 0 <= out["hours"] <= 24:
        raise ValueError("hours must be a number from 0 to 24")
    return out


def parse_attendance_csv(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """(line, row) pairs and per-line errors; English or Chinese headers (报名编号, 教师编号, 日期, 出勤状态, 学时)."""
    reader = csv.reader(io.StringIO(text))
    try:
        return _parse_rows(reader)
    except csv.Error as exc:  # e.g. a cell past csv.field_size_limit() (128 KiB)
        raise problem("bad_csv", f"malformed CSV near line {reader.line_num}: {exc}", 422) from None


def _parse_rows(reader: Any) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    cols = [_COLUMNS.get(h.strip().lower()) for h in next(reader, [])]
    missing = {"session_date", "status", "hours"} - set(cols)
    if not {"enrollment_id", "teacher_id"} & set(cols):
        missing.add("enrollment_id or teacher_id")
    if missing:
        raise problem("bad_csv", f"missing columns: {', '.join(sorted(missing))}", 422)
    rows: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        if len(rows) + len(errors) >= MAX_IMPORT_ROWS:
            raise problem("bad_csv", f"at most {MAX_IMPORT_ROWS} rows per import", 422)
        try:
            rows.append((reader.line_num, _csv_row({c: v.strip() for c, v in zip(cols, values, strict=False) if c})))
        except ValueError as e:
            errors.append({"line": reader.line_num, "reason": str(e)})
    return rows, errors


async def _csv_text(request: Request) -> str:
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise Problem(413, "payload_too_large", "请求体过大 Payload too large", f"at most {MAX_IMPORT_BYTES} bytes")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        files = [v for _, v in (await request.form()).multi_items() if not isinstance(v, str)]
        if not files:
            raise problem("bad_csv", "no file in the form", 422)
        raw = await files[0].read()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GB18030
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise problem("bad_csv", "the file must be text in UTF-8 or GB18030 (GBK)", 422)


_IMPORT_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
}}} | UPLOAD


@router.post("/v1/projects/{project_id}/attendance/import", openapi_extra=_IMPORT_BODY,
             summary="Import attendance from CSV, all or nothing")
async def import_attendance(project_id: uuid.UUID, request: Request, cmd: Command) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    rows, errors = parse_attendance_csv(await _csv_text(request))
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        project = await load_project(tx.conn, project_id)
        runner(cmd.principal, INITIAL, project)
        # A few statements for the whole file, not a few per row: enrollments named by teacher
        # resolved at once, every enrollment's events loaded at once, the attendance rows written
        # at once, every stream appended at once (its expected version checked by the store).
        named = [row["teacher_id"] for _, row in rows if not row.get("enrollment_id")]
        by_teacher = {r["teacher_id"]: r["id"] for r in await tx.conn.fetch(
            "SELECT teacher_id, id FROM enrollments WHERE project_id = $1 AND teacher_id = ANY($2::uuid[])"
            " AND status <> 'withdrawn'", project_id, named)} if named else {}
        eids = [row.get("enrollment_id") or by_teacher.get(row["teacher_id"]) for _, row in rows]
        # In the file's order (first row of each enrollment): the events are recorded in it.
        order = list(dict.fromkeys(f"enrollment-{e}" for e in eids if e is not None))
        loaded = await load_states(tx.conn, cmd.store, order, evolve, INITIAL)
        streams: dict[str, tuple[Enrollment, int, list[tuple[str, dict]]]] = {
            sid: (*loaded[sid], []) for sid in order}
        seen: set[tuple[Any, date]] = set()
        for (line, row), eid in zip(rows, eids, strict=True):
            stream = f"enrollment-{eid}"
            state, version, events = streams.get(stream, (INITIAL, 0, []))
            try:
                if state.project_id != str(project_id) or str(row.get("teacher_id", state.teacher_id)) != str(
                        state.teacher_id):
                    raise Refused("enrollment_not_found", "no such enrollment of this teacher in this project")
                if (eid, row["session_date"]) in seen:
                    raise Refused("duplicate_row", "the same enrollment and date appear twice in the file")
                seen.add((eid, row["session_date"]))
                new = domain.decide_attendance(state, session_date=row["session_date"], status=row["status"],
                                               hours=row["hours"], project=project)
            except Refused as e:
                errors.append({"line": line, "code": e.code, "reason": e.message})
                continue
            for type_, data in new:
                state = evolve(state, type_, data)
            streams[stream] = (state, version, events + new)
        streams = {sid: st for sid, st in streams.items() if st[2]}
        if errors or not rows:
            raise problem("invalid_rows", f"{len(errors)} invalid rows; nothing was recorded" if errors
                          else "the file has no rows", 422, errors=sorted(errors, key=lambda e: e["line"]))
        try:  # project everything first, append last: the commit-order lock is held briefly
            await project_many(tx.conn, [(stream, version + i, type_, data)
                                         for stream, (_, version, events) in streams.items()
                                         for i, (type_, data) in enumerate(events, start=1)])
            await cmd.store.append_many(tx.conn, [
                (stream, version, [registry.new(t, d) for t, d in events], tx.metadata)
                for stream, (_, version, events) in streams.items()])
        except Refused as e:
            raise problem(e.code, e.message, e.status) from None
        return await tx.respond(200, {"recorded": len(rows), "enrollments": len(streams)})
