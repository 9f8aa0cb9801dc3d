"""HTTP routes: a teacher's enrollment in a project — nomination (报送), replacement (换人),
withdrawal, check-in (报到), attendance, assessment, completion (结业), failure, no-show,
evaluation — and reads.

Who may act:
- nominate / replace / withdraw: province, city or county admins whose subtree holds the region;
- check-in: the teacher themself (sub = teacher id), an admin over the region, or the project's
  host. A repeated check-in is harmless: 200 with the current state and no second event;
- attendance (one or a CSV import), assessment, complete, fail, no-show: the project's host
  (role host, org = host id) or an admin whose subtree holds the project's organizer;
- evaluation: the teacher themself, once;
- reads: service; admins and auditors over the region; the teacher (own); the host (own projects).
Attendance for a date already recorded replaces it (the latest record wins, an upsert).
"""

from __future__ import annotations

import base64
import csv
import io
import uuid
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from services.enrollment.api.projects import Today  # Asia/Shanghai calendar day; tests override shanghai_today
from services.enrollment.domain import enrollment as domain
from services.enrollment.domain.enrollment import INITIAL, Enrollment, ProjectFacts, evolve
from services.enrollment.domain.errors import Refused
from services.enrollment.events import registry
from services.enrollment.projector import project as project_event
from services.enrollment.projector import record
from services.enrollment.projector.enrollments import list_enrollment_rows, load_enrollment_detail
from services.enrollment.projector.projects import load_project_row
from shared.aggregate import load_state
from shared.auth import Authenticated, Principal, can_read, org_within, require_role, subtree_prefix
from shared.commands import Command, CommandContext
from shared.eventstore import NO_STREAM, ConcurrencyError
from shared.problems import Problem

router = APIRouter(tags=["enrollments"])
REGION_ADMINS = ("province_admin", "city_admin", "county_admin")
ADMINS = (*REGION_ADMINS, "school_admin")
TITLES = {
    "project_not_found": "项目不存在 Project not found", "teacher_not_found": "教师不存在 Teacher not found",
    "enrollment_not_found": "报名记录不存在 Enrollment not found", "project_not_open": "项目未开放 Project not open",
    "project_not_started": "项目未开班 Project not started", "teacher_not_in_region": "教师不在该地区 Not in region",
    "no_quota": "该地区无参训指标 No quota", "quota_exhausted": "配额已满 Quota exhausted",
    "national_limit": "每年限参加一项国培 One national project a year", "barred": "三年内不得参加国培 Barred",
    "category_repeat": "已参加过同类国培 Category already attended", "already_nominated": "已报送 Already nominated",
    "not_same_region": "须为同一地区教师 Not the same region", "already_checked_in": "已报到 Already checked in",
    "not_checked_in": "尚未报到 Not checked in", "invalid_transition": "状态不允许 Invalid transition",
    "session_out_of_range": "日期不在培训期内 Session outside the project", "invalid_rows": "导入数据有误 Invalid rows",
    "assessment_failed": "考核不合格 Assessment failed", "already_evaluated": "已评价 Already evaluated",
    "final_assessment_required": "须通过结业考核 Final assessment required", "bad_cursor": "游标无效 Invalid cursor",
    "bad_csv": "CSV 无效 Invalid CSV", "invalid_status": "出勤状态无效 Invalid status",
}


def _problem(code: str, detail: str, status: int = 409, **extra: Any) -> Problem:
    return Problem(status, code, TITLES.get(code, code), detail, **extra)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


Reason = Annotated[str, Field(min_length=1, max_length=500)]


class NominationCreate(_In):
    teacher_id: uuid.UUID
    region_code: str = Field(min_length=2, max_length=32, pattern=r"^[0-9A-Za-z]+$")


class ReplacementCreate(_In):
    teacher_id: uuid.UUID


class WithdrawalCreate(_In):
    reason: Reason


class AttendanceCreate(_In):
    session_date: date
    status: Literal["present", "absent", "leave"]
    hours: float = Field(ge=0, le=24, allow_inf_nan=False)


class AssessmentCreate(_In):
    kind: Literal["process", "final"]
    score: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    passed: StrictBool


class FailureCreate(_In):
    reason: Reason


class NoShowCreate(_In):
    special_reason: StrictBool


class EvaluationCreate(_In):
    satisfied: StrictBool
    score: StrictInt = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class EnrollmentPublic(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    teacher_id: uuid.UUID
    region_code: str
    level: str
    category: str
    year: int
    status: str
    nominated_on: date | None
    checked_in_on: date | None
    finished_on: date | None
    reason: str | None
    special_reason: bool | None
    barred_until_year: int | None
    version: int
    attendance: list[dict[str, Any]] = []
    assessments: list[dict[str, Any]] = []
    evaluated: bool = False


def _facts(row: asyncpg.Record) -> ProjectFacts:
    return ProjectFacts(
        project_id=str(row["id"]), status=row["status"], level=row["level"], category=row["category"],
        year=row["year"], hours=float(row["hours"]), hour_category=row["hour_category"],
        host_id=str(row["host_id"]) if row["host_id"] else None, organizer_code=row["organizer_code"],
        starts_on=row["starts_on"], ends_on=row["ends_on"], cross_year=row["cross_year"])


async def _project(conn: asyncpg.Connection, project_id: Any) -> ProjectFacts:
    row = await load_project_row(conn, project_id)
    if row is None:
        raise _problem("project_not_found", f"no project {project_id}", 404)
    return _facts(row)


async def _teacher_in_region(conn: asyncpg.Connection, teacher_id: uuid.UUID, region_code: str) -> bool:
    """Whether the teacher's school lies in the region: by the org tree, or by GB/T 2260 prefix."""
    school = await conn.fetchval("SELECT school_code FROM teachers WHERE id = $1", teacher_id)
    if school is None:
        raise _problem("teacher_not_found", f"no teacher {teacher_id}", 404)
    return org_within(school, region_code) or await conn.fetchval(
        """WITH RECURSIVE up(code, parent, depth) AS (
               SELECT code, parent_code, 0 FROM orgs WHERE code = $1
               UNION ALL SELECT o.code, o.parent_code, up.depth + 1 FROM orgs o JOIN up ON o.code = up.parent
               WHERE up.depth < 8)
           SELECT EXISTS (SELECT 1 FROM up WHERE code = $2)""", school, region_code)


def _is_host(pr: Principal, project: ProjectFacts) -> bool:
    return pr.role == "host" and project.host_id is not None and pr.org == project.host_id


def _authorize(pr: Principal, ok: bool) -> None:
    if not ok:
        raise Problem(403, "out_of_scope", "超出管辖范围 Out of scope", "not this principal's enrollment or project")


def region_admin(pr: Principal, s: Enrollment, p: ProjectFacts) -> None:
    _authorize(pr, pr.role in REGION_ADMINS and can_read(pr, s.region_code))


def runner(pr: Principal, s: Enrollment, p: ProjectFacts) -> None:
    """The project's host, or an admin over its organizer (they run sessions and assessments)."""
    _authorize(pr, _is_host(pr, p) or (pr.role in ADMINS and can_read(pr, p.organizer_code)))


def attendee(pr: Principal, s: Enrollment, p: ProjectFacts) -> None:
    _authorize(pr, pr.role == "teacher" and pr.sub == s.teacher_id)


def check_in_actor(pr: Principal, s: Enrollment, p: ProjectFacts) -> None:
    _authorize(pr, (pr.role == "teacher" and pr.sub == s.teacher_id) or _is_host(pr, p)
               or (pr.role in ADMINS and can_read(pr, s.region_code)))


Decide = Callable[[Enrollment, ProjectFacts], list[tuple[str, dict]]]


async def _run(cmd: CommandContext, enrollment_id: uuid.UUID, authorize: Callable[..., None],
               decide: Callable[[asyncpg.Connection, Enrollment, ProjectFacts], Any]) -> Response:
    """Load → authorize → decide → project + append, in one transaction; 200 with the new state."""
    stream = f"enrollment-{enrollment_id}"
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        state, version = await load_state(tx.conn, cmd.store, stream, evolve, INITIAL)
        if version == 0:
            raise _problem("enrollment_not_found", f"no enrollment {enrollment_id}", 404)
        project = await _project(tx.conn, state.project_id)
        authorize(cmd.principal, state, project)
        if (expected := cmd.if_match()) is not None and expected != version:
            raise ConcurrencyError(stream, expected, version)
        try:
            events = await decide(tx.conn, state, project)
            await record(tx.conn, cmd.store, stream, version, events, tx.metadata)
        except Refused as e:
            raise _problem(e.code, e.message, e.status) from None
        for type_, data in events:
            state = evolve(state, type_, data)
        version += len(events)
        return await tx.respond(200, {"enrollment_id": str(enrollment_id), "status": state.status,
                                      "version": version}, headers={"ETag": f'"{version}"'})


def _pure(fn: Decide) -> Callable[[asyncpg.Connection, Enrollment, ProjectFacts], Any]:
    async def call(conn: asyncpg.Connection, s: Enrollment, p: ProjectFacts) -> list[tuple[str, dict]]:
        return fn(s, p)
    return call


@router.post("/v1/projects/{project_id}/nominations", status_code=201, summary="Nominate a teacher (报送)")
async def nominate(project_id: uuid.UUID, body: NominationCreate, cmd: Command, today: Today) -> Response:
    pr = cmd.principal
    require_role(pr, *REGION_ADMINS)
    _authorize(pr, can_read(pr, body.region_code))
    enrollment_id = uuid.uuid4()
    stream = f"enrollment-{enrollment_id}"
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        project = await _project(tx.conn, project_id)
        in_region = await _teacher_in_region(tx.conn, body.teacher_id, body.region_code)
        has_quota = await tx.conn.fetchval("SELECT EXISTS (SELECT 1 FROM project_quotas WHERE project_id = $1"
                                           " AND region_code = $2)", project_id, body.region_code)
        try:
            events = domain.decide_nominate(
                INITIAL, enrollment_id=str(enrollment_id), teacher_id=str(body.teacher_id),
                region_code=body.region_code, project=project, teacher_in_region=in_region, has_quota=has_quota,
                today=today)
            await record(tx.conn, cmd.store, stream, NO_STREAM, events, tx.metadata)
        except Refused as e:
            raise _problem(e.code, e.message, e.status) from None
        return await tx.respond(201, {"enrollment_id": str(enrollment_id), "status": domain.NOMINATED, "version": 1},
                                headers={"ETag": '"1"', "Location": f"/v1/enrollments/{enrollment_id}"})


@router.post("/v1/enrollments/{enrollment_id}/replace", summary="Replace the nominee (换人), before check-in")
async def replace(enrollment_id: uuid.UUID, body: ReplacementCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)

    async def decide(conn: asyncpg.Connection, s: Enrollment, p: ProjectFacts) -> list[tuple[str, dict]]:
        in_region = await _teacher_in_region(conn, body.teacher_id, s.region_code)
        return domain.decide_replace(s, teacher_id=str(body.teacher_id), teacher_in_region=in_region, project=p)
    return await _run(cmd, enrollment_id, region_admin, decide)


@router.post("/v1/enrollments/{enrollment_id}/withdraw", summary="Withdraw a nominee, before check-in")
async def withdraw(enrollment_id: uuid.UUID, body: WithdrawalCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)
    return await _run(cmd, enrollment_id, region_admin,
                      _pure(lambda s, p: domain.decide_withdraw(s, reason=body.reason, project=p)))


@router.post("/v1/enrollments/{enrollment_id}/check-in", summary="Check in (报到); repeats are harmless")
async def check_in(enrollment_id: uuid.UUID, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "teacher", "host", *ADMINS)
    return await _run(cmd, enrollment_id, check_in_actor,
                      _pure(lambda s, p: domain.decide_check_in(s, project=p, today=today)))


@router.post("/v1/enrollments/{enrollment_id}/attendance", summary="Record a session's attendance (upsert)")
async def attendance(enrollment_id: uuid.UUID, body: AttendanceCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await _run(cmd, enrollment_id, runner, _pure(lambda s, p: domain.decide_attendance(
        s, session_date=body.session_date, status=body.status, hours=body.hours, project=p)))


@router.post("/v1/enrollments/{enrollment_id}/assessment", summary="Record a process or final assessment")
async def assessment(enrollment_id: uuid.UUID, body: AssessmentCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await _run(cmd, enrollment_id, runner, _pure(lambda s, p: domain.decide_assessment(
        s, kind=body.kind, score=body.score, passed=body.passed)))


@router.post("/v1/enrollments/{enrollment_id}/complete", summary="Complete (结业): awards the project's hours")
async def complete(enrollment_id: uuid.UUID, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await _run(cmd, enrollment_id, runner,
                      _pure(lambda s, p: domain.decide_complete(s, project=p, today=today)))


@router.post("/v1/enrollments/{enrollment_id}/fail", summary="Fail (不予结业, 004 §2.4)")
async def fail(enrollment_id: uuid.UUID, body: FailureCreate, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await _run(cmd, enrollment_id, runner,
                      _pure(lambda s, p: domain.decide_fail(s, reason=body.reason, project=p, today=today)))


@router.post("/v1/enrollments/{enrollment_id}/no-show", summary="Record a no-show (may bar from 国培, 004 §4.1)")
async def no_show(enrollment_id: uuid.UUID, body: NoShowCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    return await _run(cmd, enrollment_id, runner,
                      _pure(lambda s, p: domain.decide_no_show(s, special_reason=body.special_reason, project=p)))


@router.post("/v1/enrollments/{enrollment_id}/evaluation", summary="The learner's evaluation, once")
async def evaluation(enrollment_id: uuid.UUID, body: EvaluationCreate, cmd: Command) -> Response:
    require_role(cmd.principal, "teacher")
    return await _run(cmd, enrollment_id, attendee, _pure(lambda s, p: domain.decide_evaluate(
        s, satisfied=body.satisfied, score=body.score, comment=body.comment, project=p)))


# CSV attendance import: every row valid or nothing written; bad rows reported by line.
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
    cols = [_COLUMNS.get(h.strip().lower()) for h in next(reader, [])]
    missing = {"session_date", "status", "hours"} - set(cols)
    if not {"enrollment_id", "teacher_id"} & set(cols):
        missing.add("enrollment_id or teacher_id")
    if missing:
        raise _problem("bad_csv", f"missing columns: {', '.join(sorted(missing))}", 422)
    rows: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        if len(rows) + len(errors) >= MAX_IMPORT_ROWS:
            raise _problem("bad_csv", f"at most {MAX_IMPORT_ROWS} rows per import", 422)
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
            raise _problem("bad_csv", "no file in the form", 422)
        raw = await files[0].read()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GB18030
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _problem("bad_csv", "the file must be UTF-8 text", 422)


@router.post("/v1/projects/{project_id}/attendance/import", summary="Import attendance from CSV, all or nothing")
async def import_attendance(project_id: uuid.UUID, request: Request, cmd: Command) -> Response:
    require_role(cmd.principal, "host", *ADMINS)
    rows, errors = parse_attendance_csv(await _csv_text(request))
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        project = await _project(tx.conn, project_id)
        runner(cmd.principal, INITIAL, project)
        streams: dict[str, tuple[Enrollment, int, list[tuple[str, dict]]]] = {}
        seen: set[tuple[Any, date]] = set()
        for line, row in rows:
            eid = row.get("enrollment_id") or await tx.conn.fetchval(
                "SELECT id FROM enrollments WHERE project_id = $1 AND teacher_id = $2 AND status <> 'withdrawn'",
                project_id, row["teacher_id"])
            stream = f"enrollment-{eid}"
            if eid is not None and stream not in streams:
                streams[stream] = (*await load_state(tx.conn, cmd.store, stream, evolve, INITIAL), [])
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
        if errors or not rows:
            raise _problem("invalid_rows", f"{len(errors)} invalid rows; nothing was recorded" if errors
                           else "the file has no rows", 422, errors=sorted(errors, key=lambda e: e["line"]))
        try:  # project everything first, append last: the commit-order lock is held briefly
            for stream, (_, version, events) in streams.items():
                for i, (type_, data) in enumerate(events, start=1):
                    await project_event(tx.conn, stream, version + i, type_, data)
            for stream, (_, version, events) in streams.items():
                await cmd.store.append(tx.conn, stream, version, [registry.new(t, d) for t, d in events],
                                       tx.metadata)
        except Refused as e:
            raise _problem(e.code, e.message, e.status) from None
        return await tx.respond(200, {"recorded": len(rows), "enrollments": len(streams)})


class EnrollmentPage(BaseModel):
    items: list[EnrollmentPublic]
    next_cursor: str | None


def _may_read(pr: Principal, row: Any) -> bool:
    return (pr.role == "service" or (pr.role == "teacher" and pr.sub == str(row["teacher_id"]))
            or (pr.role == "host" and pr.org == str(row["host_id"])) or can_read(pr, row["region_code"]))


@router.get("/v1/enrollments/{enrollment_id}", response_model=EnrollmentPublic)
async def get_enrollment(enrollment_id: uuid.UUID, request: Request, response: Response,
                         principal: Authenticated) -> EnrollmentPublic:
    async with request.app.state.pool.acquire() as conn:
        row = await load_enrollment_detail(conn, enrollment_id)
    if row is None:
        raise _problem("enrollment_not_found", f"no enrollment {enrollment_id}", 404)
    _authorize(principal, _may_read(principal, row))
    response.headers["ETag"] = f'"{row["version"]}"'
    return EnrollmentPublic(**row)


def _uuid_or_nil(value: str | None) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        return uuid.UUID(int=0)  # matches nothing: a malformed id claim sees no rows


@router.get("/v1/enrollments", response_model=EnrollmentPage)
async def list_enrollments(
    request: Request, principal: Authenticated, project_id: uuid.UUID | None = None,
    teacher_id: uuid.UUID | None = None, region_code: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None,
) -> EnrollmentPage:
    pr = principal
    scope: dict[str, Any] = {"scope_org": None, "scope_prefix": None, "scope_teacher": None, "scope_host": None}
    if pr.role == "teacher":
        scope["scope_teacher"] = _uuid_or_nil(pr.sub)
    elif pr.role == "host":
        scope["scope_host"] = _uuid_or_nil(pr.org)
    elif pr.role != "service":
        if not pr.org:
            raise Problem(403, "out_of_scope", "超出管辖范围 Out of scope", "this token carries no org")
        scope.update(scope_org=pr.org, scope_prefix=subtree_prefix(pr.org))
    try:
        after = uuid.UUID(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else None
    except ValueError:
        raise _problem("bad_cursor", "pass next_cursor back as given", 400) from None
    async with request.app.state.pool.acquire() as conn:
        rows = await list_enrollment_rows(conn, project_id=project_id, teacher_id=teacher_id, region_code=region_code,
                                          after=after, limit=limit + 1, **scope)
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = base64.urlsafe_b64encode(str(rows[-1]["id"]).encode()).decode()
    return EnrollmentPage(items=[EnrollmentPublic(**dict(r)) for r in rows if _may_read(pr, r)], next_cursor=nxt)
