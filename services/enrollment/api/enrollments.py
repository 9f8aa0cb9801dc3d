"""HTTP routes: getting a teacher into a project — nomination (报送), replacement (换人),
withdrawal and check-in (报到). Progress after check-in is in enrollment_progress.py and
attendance_import.py, reads in enrollment_reads.py.

Who may act:
- nominate / replace / withdraw: province, city or county admins whose subtree holds the region;
- check-in: the teacher themself (sub = teacher id), an admin over the region, or the project's
  host. A repeated check-in is harmless: 200 with the current state and no second event.
"""

from __future__ import annotations

import uuid

import asyncpg
from fastapi import APIRouter, Response
from pydantic import Field

from services.enrollment.api._enrollment_common import (
    ADMINS,
    REGION_ADMINS,
    Reason,
    StrictIn,
    authorize,
    is_host,
    problem,
    project_facts,
    pure,
    run_command,
)
from services.enrollment.api.projects import Today  # Asia/Shanghai calendar day; tests override shanghai_today
from services.enrollment.domain import enrollment as domain
from services.enrollment.domain.enrollment import INITIAL, Enrollment, ProjectFacts
from services.enrollment.projector import record
from shared.auth import Principal, can_read, org_within, require_role
from shared.commands import Command
from shared.eventstore import NO_STREAM
from shared.refusal import Refused

router = APIRouter(tags=["enrollments"])


class NominationCreate(StrictIn):
    teacher_id: uuid.UUID
    region_code: str = Field(min_length=2, max_length=32, pattern=r"^[0-9A-Za-z]+$")


class ReplacementCreate(StrictIn):
    teacher_id: uuid.UUID


class WithdrawalCreate(StrictIn):
    reason: Reason


async def _school_in_region(conn: asyncpg.Connection, school: str, region_code: str) -> bool:
    """Whether the school lies in the region: by GB/T 2260 prefix, or else by the org tree."""
    return org_within(school, region_code) or await conn.fetchval(
        """WITH RECURSIVE up(code, parent, depth) AS (
               SELECT code, parent_code, 0 FROM orgs WHERE code = $1
               UNION ALL SELECT o.code, o.parent_code, up.depth + 1 FROM orgs o JOIN up ON o.code = up.parent
               WHERE up.depth < 8)
           SELECT EXISTS (SELECT 1 FROM up WHERE code = $2)""", school, region_code)


async def _teacher_in_region(conn: asyncpg.Connection, teacher_id: uuid.UUID, region_code: str) -> bool:
    school = await conn.fetchval("SELECT school_code FROM teachers WHERE id = $1", teacher_id)
    if school is None:
        raise problem("teacher_not_found", f"no teacher {teacher_id}", 404)
    return await _school_in_region(conn, school, region_code)


# Everything a nomination decides on, in one round trip: the project row, the teacher's school
# and whether the region holds a quota in the project.
_NOMINATION_FACTS = """
SELECT p.*, (SELECT school_code FROM teachers WHERE id = $2) AS teacher_school,
       EXISTS (SELECT 1 FROM project_quotas q WHERE q.project_id = p.id AND q.region_code = $3) AS has_quota
FROM projects p WHERE p.id = $1
"""


def region_admin(pr: Principal, s: Enrollment, p: ProjectFacts) -> None:
    authorize(pr, pr.role in REGION_ADMINS and can_read(pr, s.region_code))


def check_in_actor(pr: Principal, s: Enrollment, p: ProjectFacts) -> None:
    authorize(pr, (pr.role == "teacher" and pr.sub == s.teacher_id) or is_host(pr, p)
              or (pr.role in ADMINS and can_read(pr, s.region_code)))


@router.post("/v1/projects/{project_id}/nominations", status_code=201, summary="Nominate a teacher (报送)")
async def nominate(project_id: uuid.UUID, body: NominationCreate, cmd: Command, today: Today) -> Response:
    pr = cmd.principal
    require_role(pr, *REGION_ADMINS)
    authorize(pr, can_read(pr, body.region_code))
    enrollment_id = uuid.uuid4()
    stream = f"enrollment-{enrollment_id}"
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        facts = await tx.conn.fetchrow(_NOMINATION_FACTS, project_id, body.teacher_id, body.region_code)
        if facts is None:
            raise problem("project_not_found", f"no project {project_id}", 404)
        if facts["teacher_school"] is None:
            raise problem("teacher_not_found", f"no teacher {body.teacher_id}", 404)
        project, has_quota = project_facts(facts), facts["has_quota"]
        in_region = await _school_in_region(tx.conn, facts["teacher_school"], body.region_code)
        try:
            events = domain.decide_nominate(
                INITIAL, enrollment_id=str(enrollment_id), teacher_id=str(body.teacher_id),
                region_code=body.region_code, project=project, teacher_in_region=in_region, has_quota=has_quota,
                today=today)
            await record(tx.conn, cmd.store, stream, NO_STREAM, events, tx.metadata)
        except Refused as e:
            raise problem(e.code, e.message, e.status) from None
        return await tx.respond(201, {"enrollment_id": str(enrollment_id), "status": domain.NOMINATED, "version": 1},
                                headers={"ETag": '"1"', "Location": f"/v1/enrollments/{enrollment_id}"})


@router.post("/v1/enrollments/{enrollment_id}/replace", summary="Replace the nominee (换人), before check-in")
async def replace(enrollment_id: uuid.UUID, body: ReplacementCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)

    async def decide(conn: asyncpg.Connection, s: Enrollment, p: ProjectFacts) -> list[tuple[str, dict]]:
        in_region = await _teacher_in_region(conn, body.teacher_id, s.region_code)
        return domain.decide_replace(s, teacher_id=str(body.teacher_id), teacher_in_region=in_region, project=p)
    return await run_command(cmd, enrollment_id, region_admin, decide)


@router.post("/v1/enrollments/{enrollment_id}/withdraw", summary="Withdraw a nominee, before check-in")
async def withdraw(enrollment_id: uuid.UUID, body: WithdrawalCreate, cmd: Command) -> Response:
    require_role(cmd.principal, *REGION_ADMINS)
    return await run_command(cmd, enrollment_id, region_admin,
                             pure(lambda s, p: domain.decide_withdraw(s, reason=body.reason, project=p)))


@router.post("/v1/enrollments/{enrollment_id}/check-in", summary="Check in (报到); repeats are harmless")
async def check_in(enrollment_id: uuid.UUID, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, "teacher", "host", *ADMINS)
    return await run_command(cmd, enrollment_id, check_in_actor,
                             pure(lambda s, p: domain.decide_check_in(s, project=p, today=today)))
