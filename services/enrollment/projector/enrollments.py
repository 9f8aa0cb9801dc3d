"""Read model: enrollments with their attendance, assessments and evaluations. Dates come from
the events, never now(), so a rebuild reproduces the tables exactly. Every handler moves
`enrollments.version` to the stream's version: the row's version is the enrollment's ETag.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from shared.inline import InlineProjection, Pending
from shared.orgtree import subtree_sql

ENROLLMENTS = InlineProjection("enrollment_enrollments", ("enrollments", "attendance", "assessments", "evaluations",
                                                         "leave_requests"))


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


async def _version(conn: asyncpg.Connection, enrollment_id: str, version: int) -> None:
    await conn.execute("UPDATE enrollments SET version = $2 WHERE id = $1", enrollment_id, version)


@ENROLLMENTS.handles("TeacherNominated")
async def _nominated(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO enrollments (id, project_id, teacher_id, region_code, level, category, year, status,
                                    nominated_on, version)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'nominated', $8, $9)""",
        d["enrollment_id"], d["project_id"], d["teacher_id"], d["region_code"], d["level"], d["category"],
        d["year"], _d(d.get("nominated_on")), version)


@ENROLLMENTS.handles("NomineeReplaced")
async def _replaced(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute("UPDATE enrollments SET teacher_id = $2, version = $3 WHERE id = $1",
                       d["enrollment_id"], d["teacher_id"], version)


@ENROLLMENTS.handles("EnrollmentWithdrawn")
async def _withdrawn(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute("UPDATE enrollments SET status = 'withdrawn', reason = $2, version = $3 WHERE id = $1",
                       d["enrollment_id"], d.get("reason"), version)


@ENROLLMENTS.handles("TeacherCheckedIn")
async def _checked_in(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute("UPDATE enrollments SET status = 'checked_in', checked_in_on = $2, version = $3 WHERE id = $1",
                       d["enrollment_id"], _d(d["checked_in_on"]), version)


@ENROLLMENTS.handles_many("AttendanceRecorded")
async def _attendance(conn: asyncpg.Connection, events: Sequence[Pending]) -> None:
    """A run of AttendanceRecorded (one record, or a whole imported file) in one statement (two
    tables, neither read by the other's part); a second record for a date replaces the first, as
    the decider's evolve does."""
    # One row per (enrollment, date), the last record's: a statement may not upsert a row twice.
    rows = list({(e.data["enrollment_id"], e.data["session_date"]): e.data for e in events}.values())
    latest = {e.data["enrollment_id"]: e.version for e in events}  # in order: the last version wins
    await conn.execute(
        """WITH kept AS (
               INSERT INTO attendance (enrollment_id, session_date, status, hours)
               SELECT * FROM unnest($1::uuid[], $2::date[], $3::text[], $4::numeric[])
               ON CONFLICT (enrollment_id, session_date) DO UPDATE SET status = excluded.status, hours = excluded.hours)
           UPDATE enrollments e SET version = t.v FROM unnest($5::uuid[], $6::int[]) AS t(id, v) WHERE e.id = t.id""",
        [d["enrollment_id"] for d in rows], [_d(d["session_date"]) for d in rows], [d["status"] for d in rows],
        [d["hours"] for d in rows], list(latest), list(latest.values()))


@ENROLLMENTS.handles("AssessmentRecorded")
async def _assessment(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO assessments (enrollment_id, kind, score, passed) VALUES ($1, $2, $3, $4)
           ON CONFLICT (enrollment_id, kind) DO UPDATE SET score = excluded.score, passed = excluded.passed""",
        d["enrollment_id"], d["kind"], d.get("score"), d["passed"])
    await _version(conn, d["enrollment_id"], version)


@ENROLLMENTS.handles("EnrollmentCompleted", "EnrollmentFailed")
async def _finished(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    completed = "completed_on" in d
    await conn.execute(
        "UPDATE enrollments SET status = $2, finished_on = $3, reason = $4, version = $5 WHERE id = $1",
        d["enrollment_id"], "completed" if completed else "failed",
        _d(d["completed_on"] if completed else d["failed_on"]), d.get("reason"), version)


@ENROLLMENTS.handles("NoShowRecorded")
async def _no_show(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        """UPDATE enrollments SET status = 'no_show', special_reason = $2, barred_until_year = $3, version = $4
           WHERE id = $1""", d["enrollment_id"], d["special_reason"], d.get("barred_until_year"), version)


@ENROLLMENTS.handles("NoShowExcused")
async def _excused(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE enrollments SET special_reason = true, barred_until_year = NULL, version = $2 WHERE id = $1",
        d["enrollment_id"], version)


@ENROLLMENTS.handles("EvaluationSubmitted")
async def _evaluation(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO evaluations (enrollment_id, satisfied, score, comment) VALUES ($1, $2, $3, $4)",
                       d["enrollment_id"], d["satisfied"], d["score"], d.get("comment"))
    await _version(conn, d["enrollment_id"], version)


@ENROLLMENTS.handles("LeaveRequested")
async def _leave_requested(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # A request again after a refusal replaces the refused one (domain/leave.py).
    await conn.execute(
        """INSERT INTO leave_requests (enrollment_id, session_date, status, reason, requested_by, requested_on)
           VALUES ($1, $2, 'requested', $3, $4, $5)
           ON CONFLICT (enrollment_id, session_date) DO UPDATE SET status = 'requested', reason = excluded.reason,
               requested_by = excluded.requested_by, requested_on = excluded.requested_on, decided_on = NULL,
               decision_reason = NULL""",
        d["enrollment_id"], _d(d["session_date"]), d["reason"], d["requested_by"], _d(d["requested_on"]))
    await _version(conn, d["enrollment_id"], version)


async def _leave_decided(conn: asyncpg.Connection, d: dict[str, Any], version: int, status: str) -> None:
    await conn.execute(
        """UPDATE leave_requests SET status = $3, decided_on = $4, decision_reason = $5
           WHERE enrollment_id = $1 AND session_date = $2""",
        d["enrollment_id"], _d(d["session_date"]), status, _d(d["decided_on"]), d.get("reason"))
    await _version(conn, d["enrollment_id"], version)


@ENROLLMENTS.handles("LeaveApproved")
async def _leave_approved(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await _leave_decided(conn, d, version, "approved")


@ENROLLMENTS.handles("LeaveRejected")
async def _leave_rejected(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await _leave_decided(conn, d, version, "rejected")


async def list_leave_requests(conn: asyncpg.Connection, enrollment_id: Any) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT session_date, status, reason, requested_by, requested_on, decided_on, decision_reason
           FROM leave_requests WHERE enrollment_id = $1 ORDER BY session_date""", enrollment_id)


# Reads for the API (this module owns these tables).

async def load_enrollment_detail(conn: asyncpg.Connection, enrollment_id: Any) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT e.*, p.host_id, t.school_code AS teacher_school FROM enrollments e"
                              " JOIN projects p ON p.id = e.project_id LEFT JOIN teachers t ON t.id = e.teacher_id"
                              " WHERE e.id = $1", enrollment_id)
    if row is None:
        return None
    att = await conn.fetch("SELECT session_date, status, hours FROM attendance WHERE enrollment_id = $1"
                           " ORDER BY session_date", enrollment_id)
    ass = await conn.fetch("SELECT kind, score, passed FROM assessments WHERE enrollment_id = $1 ORDER BY kind",
                           enrollment_id)
    evaluated = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM evaluations WHERE enrollment_id = $1)",
                                    enrollment_id)
    return {**dict(row), "evaluated": evaluated,
            "attendance": [{"session_date": r["session_date"], "status": r["status"], "hours": _num(r["hours"])}
                           for r in att],
            "assessments": [{"kind": r["kind"], "score": _num(r["score"]), "passed": r["passed"]} for r in ass]}


_LIST = f"""
SELECT e.*, p.host_id, t.school_code AS teacher_school
FROM enrollments e JOIN projects p ON p.id = e.project_id LEFT JOIN teachers t ON t.id = e.teacher_id
WHERE ($1::uuid IS NULL OR e.project_id = $1) AND ($2::uuid IS NULL OR e.teacher_id = $2)
  AND ($3::text IS NULL OR e.region_code = $3) AND ($4::text IS NULL OR {subtree_sql("e.region_code", "$4", "$5")})
  AND ($6::uuid IS NULL OR e.teacher_id = $6) AND ($7::uuid IS NULL OR p.host_id = $7)
  AND ($8::uuid IS NULL OR e.id > $8) AND ($10::text IS NULL OR t.school_code = $10)
ORDER BY e.id LIMIT $9
"""


async def list_enrollment_rows(conn: asyncpg.Connection, *, project_id: Any, teacher_id: Any, region_code: str | None,
                               scope_org: str | None, scope_prefix: str | None, scope_teacher: Any, scope_host: Any,
                               after: Any, limit: int, scope_school: str | None = None) -> list[asyncpg.Record]:
    """A keyset page ordered by id. The scope_* arguments narrow to what the reader may see:
    an org subtree (the org itself or codes under its GB/T 2260 prefix), a teacher, a host, the
    teachers of a school (a school admin's)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        _LIST, project_id, teacher_id, region_code, scope_org, scope_prefix, scope_teacher, scope_host, after, limit,
        scope_school)
    return rows


_TEACHER = """
SELECT e.id, e.project_id, p.code AS project_code, p.name AS project_name, p.level, p.category, p.year, p.hours,
       p.hour_category, p.starts_on, p.ends_on, p.status AS project_status, e.region_code, e.status, e.nominated_on,
       e.checked_in_on, e.finished_on, e.version
FROM enrollments e JOIN projects p ON p.id = e.project_id
WHERE e.teacher_id = $1 AND ($2::date IS NULL OR (p.starts_on, e.id) < ($2, $3::uuid))
ORDER BY p.starts_on DESC, e.id DESC LIMIT $4
"""


async def teacher_enrollment_rows(conn: asyncpg.Connection, teacher_id: Any, after: tuple[date, Any] | None,
                                  limit: int) -> list[asyncpg.Record]:
    """One teacher's enrollments with their projects, the latest project first: a keyset page
    after (starts_on, id)."""
    rows: list[asyncpg.Record] = await conn.fetch(_TEACHER, teacher_id, after[0] if after else None,
                                                  after[1] if after else None, limit)
    return rows
