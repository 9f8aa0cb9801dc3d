"""Shared by the enrollment route modules: roles, refusal titles, project facts, who-may-act
checks, and the load → authorize → decide → record runner every per-enrollment command uses."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

import asyncpg
from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field

from services.enrollment.domain.enrollment import INITIAL, Enrollment, ProjectFacts, evolve
from services.enrollment.projector import record
from services.enrollment.projector.projects import load_project_row
from shared.aggregate import load_state
from shared.auth import Principal, can_read
from shared.commands import CommandContext
from shared.eventstore import ConcurrencyError
from shared.inputs import Note
from shared.problems import Problem
from shared.refusal import Refused

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


def problem(code: str, detail: str, status: int = 409, **extra: Any) -> Problem:
    return Problem(status, code, TITLES.get(code, code), detail, **extra)


class StrictIn(BaseModel):
    """Request bodies: unknown fields are a 422, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


Reason = Annotated[Note, Field(min_length=1, max_length=500)]


def project_facts(row: asyncpg.Record) -> ProjectFacts:
    return ProjectFacts(
        project_id=str(row["id"]), status=row["status"], level=row["level"], category=row["category"],
        year=row["year"], hours=float(row["hours"]), hour_category=row["hour_category"],
        host_id=str(row["host_id"]) if row["host_id"] else None, organizer_code=row["organizer_code"],
        starts_on=row["starts_on"], ends_on=row["ends_on"], cross_year=row["cross_year"])


async def load_project(conn: asyncpg.Connection, project_id: Any) -> ProjectFacts:
    row = await load_project_row(conn, project_id)
    if row is None:
        raise problem("project_not_found", f"no project {project_id}", 404)
    return project_facts(row)


def is_host(pr: Principal, project: ProjectFacts) -> bool:
    return pr.role == "host" and project.host_id is not None and pr.org == project.host_id


def authorize(pr: Principal, ok: bool) -> None:
    if not ok:
        raise Problem(403, "out_of_scope", "超出管辖范围 Out of scope", "not this principal's enrollment or project")


def runner(pr: Principal, s: Enrollment, p: ProjectFacts) -> None:
    """The project's host, or an admin over its organizer (they run sessions and assessments)."""
    authorize(pr, is_host(pr, p) or (pr.role in ADMINS and can_read(pr, p.organizer_code)))


Decide = Callable[[Enrollment, ProjectFacts], list[tuple[str, dict]]]


async def run_command(cmd: CommandContext, enrollment_id: uuid.UUID, policy: Callable[..., None],
                      decide: Callable[[asyncpg.Connection, Enrollment, ProjectFacts], Any]) -> Response:
    """Load → authorize (`policy`) → decide → project + append, in one transaction; 200 with the new state."""
    stream = f"enrollment-{enrollment_id}"
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        state, version = await load_state(tx.conn, cmd.store, stream, evolve, INITIAL)
        if version == 0:
            raise problem("enrollment_not_found", f"no enrollment {enrollment_id}", 404)
        project = await load_project(tx.conn, state.project_id)
        policy(cmd.principal, state, project)
        if (expected := cmd.if_match()) is not None and expected != version:
            raise ConcurrencyError(stream, expected, version)
        try:
            events = await decide(tx.conn, state, project)
            await record(tx.conn, cmd.store, stream, version, events, tx.metadata)
        except Refused as e:
            raise problem(e.code, e.message, e.status) from None
        for type_, data in events:
            state = evolve(state, type_, data)
        version += len(events)
        return await tx.respond(200, {"enrollment_id": str(enrollment_id), "status": state.status,
                                      "version": version}, headers={"ETag": f'"{version}"'})


def pure(fn: Decide) -> Callable[[asyncpg.Connection, Enrollment, ProjectFacts], Any]:
    """A decision that needs no database reads, as `run_command` takes it."""
    async def call(conn: asyncpg.Connection, s: Enrollment, p: ProjectFacts) -> list[tuple[str, dict]]:
        return fn(s, p)
    return call
