"""Projector handlers for enrollment streams, and the race-free half of the selection rules.

Each handler runs inside the command's transaction, before the append (projector/__init__.py),
so a `Refused` raised here rolls the whole command back and costs no event:

- quota: `UPDATE project_quotas SET used = used + 1 ... WHERE used < places` locks the region's
  row; concurrent nominations queue on it and the one that finds it full gets 0 rows.
- one 国培 a year (004 §3.1): the primary key (teacher_id, year) of national_slots.
- barred / category_repeat: read national_bars and national_attended *after* taking a
  transaction-scoped advisory lock on the teacher, which every handler that writes those tables
  (check-in, no-show) or a slot (nominate, replace) takes too. Under READ COMMITTED the next
  statement after the lock sees whatever the previous holder committed, so the read-then-write
  cannot interleave.
Lock order is always teacher lock → slot → enrollment row → quota row → (append's commit lock).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from services.enrollment.domain.selection import DEFAULT_RULES, NationalHistory, check_nominee
from services.enrollment.projector import handles, project
from shared.refusal import Refused

RULES = DEFAULT_RULES


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


async def _lock_teacher(conn: asyncpg.Connection, teacher_id: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 31))", f"national-teacher:{teacher_id}")


# One round trip for the facts the selection rules need, read after the teacher lock: a
# separate statement from the lock, so its snapshot includes what the lock's previous holder
# committed (READ COMMITTED takes a snapshot per statement).
_NATIONAL_FACTS = """
SELECT (SELECT cross_year FROM projects WHERE id = $2) AS cross_year,
       ARRAY(SELECT year FROM national_slots WHERE teacher_id = $1) AS years,
       ARRAY(SELECT DISTINCT category FROM national_attended WHERE teacher_id = $1) AS categories,
       ARRAY(SELECT from_year FROM national_bars WHERE teacher_id = $1 ORDER BY from_year, until_year) AS bars_from,
       ARRAY(SELECT until_year FROM national_bars WHERE teacher_id = $1 ORDER BY from_year, until_year) AS bars_until
"""


async def national_facts(conn: asyncpg.Connection, teacher_id: str, project_id: str) -> tuple[bool, NationalHistory]:
    """(the project's cross_year, the teacher's national record) — call under the teacher lock."""
    r = await conn.fetchrow(_NATIONAL_FACTS, teacher_id, project_id)
    history = NationalHistory(frozenset(r["years"]), frozenset(r["categories"]),
                              tuple(zip(r["bars_from"], r["bars_until"], strict=True)))
    return bool(r["cross_year"]), history


async def _check_and_take_slot(conn: asyncpg.Connection, teacher_id: str, enrollment_id: str,
                               project_id: str, level: str, category: str, year: int, *, move: bool) -> None:
    if not RULES.is_national(level):
        return
    await _lock_teacher(conn, teacher_id)
    cross_year, history = await national_facts(conn, teacher_id, project_id)
    check_nominee(level, category, year, cross_year, history, RULES)
    try:
        if move:  # 换人: the slot follows the place to the new teacher
            await conn.execute("UPDATE national_slots SET teacher_id = $1 WHERE enrollment_id = $2",
                               teacher_id, enrollment_id)
        else:
            await conn.execute("INSERT INTO national_slots (teacher_id, year, enrollment_id) VALUES ($1, $2, $3)",
                               teacher_id, year, enrollment_id)
    except asyncpg.UniqueViolationError:
        raise Refused("national_limit", f"teacher already holds a national project in {year} (004 §3.1)") from None


@handles("TeacherNominated")
async def on_nominated(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await _check_and_take_slot(conn, d["teacher_id"], d["enrollment_id"], d["project_id"], d["level"],
                               d["category"], d["year"], move=False)
    try:
        await conn.execute(
            """INSERT INTO enrollments (id, project_id, teacher_id, region_code, level, category, year, status,
                                        nominated_on, version)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'nominated', $8, $9)""",
            d["enrollment_id"], d["project_id"], d["teacher_id"], d["region_code"], d["level"], d["category"],
            d["year"], _d(d.get("nominated_on")), version)
    except asyncpg.UniqueViolationError:
        raise Refused("already_nominated", "the teacher is already nominated for this project") from None
    taken = await conn.fetchval(
        "UPDATE project_quotas SET used = used + 1 WHERE project_id = $1 AND region_code = $2 AND used < places"
        " RETURNING used", d["project_id"], d["region_code"])
    if taken is None:
        raise Refused("quota_exhausted", f"region {d['region_code']} has used all its places in this project")


@handles("NomineeReplaced")
async def on_replaced(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    row = await conn.fetchrow("SELECT level, category, year FROM enrollments WHERE id = $1", d["enrollment_id"])
    await _check_and_take_slot(conn, d["teacher_id"], d["enrollment_id"], d["project_id"], row["level"],
                               row["category"], row["year"], move=True)
    try:
        await conn.execute("UPDATE enrollments SET teacher_id = $2, version = $3 WHERE id = $1",
                           d["enrollment_id"], d["teacher_id"], version)
    except asyncpg.UniqueViolationError:
        raise Refused("already_nominated", "the new teacher is already nominated for this project") from None


@handles("EnrollmentWithdrawn")
async def on_withdrawn(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # The place goes back to the region and the teacher may be nominated elsewhere this year.
    await conn.execute("UPDATE project_quotas SET used = used - 1 WHERE project_id = $1 AND region_code = $2",
                       d["project_id"], d["region_code"])
    await conn.execute("DELETE FROM national_slots WHERE enrollment_id = $1", d["enrollment_id"])
    await conn.execute("UPDATE enrollments SET status = 'withdrawn', reason = $2, version = $3 WHERE id = $1",
                       d["enrollment_id"], d.get("reason"), version)


@handles("TeacherCheckedIn")
async def on_checked_in(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    row = await conn.fetchrow("SELECT level, category FROM enrollments WHERE id = $1", d["enrollment_id"])
    if RULES.is_national(row["level"]):  # attended: counts for the repeat rule (004 §3.1)
        await _lock_teacher(conn, d["teacher_id"])
        await conn.execute("INSERT INTO national_attended (teacher_id, category, project_id) VALUES ($1, $2, $3)"
                           " ON CONFLICT DO NOTHING", d["teacher_id"], row["category"], d["project_id"])
    await conn.execute("UPDATE enrollments SET status = 'checked_in', checked_in_on = $2, version = $3 WHERE id = $1",
                       d["enrollment_id"], _d(d["checked_in_on"]), version)


@handles("AttendanceRecorded")
async def on_attendance(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO attendance (enrollment_id, session_date, status, hours) VALUES ($1, $2, $3, $4)
           ON CONFLICT (enrollment_id, session_date) DO UPDATE SET status = excluded.status, hours = excluded.hours""",
        d["enrollment_id"], _d(d["session_date"]), d["status"], d["hours"])
    await conn.execute("UPDATE enrollments SET version = $2 WHERE id = $1", d["enrollment_id"], version)


async def project_many(conn: asyncpg.Connection, items: list[tuple[str, int, str, dict[str, Any]]]) -> None:
    """(stream_id, version, type, data) in order, as `project` would one by one, with attendance
    written in two statements for all of them (attendance imports)."""
    attendance = [(v, d) for _, v, t, d in items if t == "AttendanceRecorded"]
    if len(attendance) < len(items):  # anything else: the handlers, one by one, in order
        for stream_id, version, type_, data in items:
            await project(conn, stream_id, version, type_, data)
        return
    await conn.execute(
        """INSERT INTO attendance (enrollment_id, session_date, status, hours)
           SELECT * FROM unnest($1::uuid[], $2::date[], $3::text[], $4::numeric[])
           ON CONFLICT (enrollment_id, session_date) DO UPDATE SET status = excluded.status, hours = excluded.hours""",
        [d["enrollment_id"] for _, d in attendance], [_d(d["session_date"]) for _, d in attendance],
        [d["status"] for _, d in attendance], [d["hours"] for _, d in attendance])
    latest = {d["enrollment_id"]: v for v, d in attendance}  # in order: the last version wins
    await conn.execute("UPDATE enrollments e SET version = t.v FROM unnest($1::uuid[], $2::int[]) AS t(id, v)"
                       " WHERE e.id = t.id", list(latest), list(latest.values()))


@handles("AssessmentRecorded")
async def on_assessment(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO assessments (enrollment_id, kind, score, passed) VALUES ($1, $2, $3, $4)
           ON CONFLICT (enrollment_id, kind) DO UPDATE SET score = excluded.score, passed = excluded.passed""",
        d["enrollment_id"], d["kind"], d.get("score"), d["passed"])
    await conn.execute("UPDATE enrollments SET version = $2 WHERE id = $1", d["enrollment_id"], version)


@handles("EnrollmentCompleted", "EnrollmentFailed")
async def on_finished(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    completed = "completed_on" in d
    await conn.execute(
        "UPDATE enrollments SET status = $2, finished_on = $3, reason = $4, version = $5 WHERE id = $1",
        d["enrollment_id"], "completed" if completed else "failed",
        _d(d["completed_on"] if completed else d["failed_on"]), d.get("reason"), version)


@handles("NoShowRecorded")
async def on_no_show(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    # The national slot stays taken: the year's 国培 place was used, even if not attended.
    if d.get("barred_until_year") is not None:  # 004 §4.1: barred from 国培 for three years
        await _lock_teacher(conn, d["teacher_id"])
        await conn.execute(
            """INSERT INTO national_bars (teacher_id, from_year, until_year, enrollment_id)
               SELECT teacher_id, year, $2, id FROM enrollments WHERE id = $1""",
            d["enrollment_id"], d["barred_until_year"])
    await conn.execute(
        """UPDATE enrollments SET status = 'no_show', special_reason = $2, barred_until_year = $3, version = $4
           WHERE id = $1""", d["enrollment_id"], d["special_reason"], d.get("barred_until_year"), version)


@handles("EvaluationSubmitted")
async def on_evaluation(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    try:
        await conn.execute("INSERT INTO evaluations (enrollment_id, satisfied, score, comment) VALUES ($1, $2, $3, $4)",
                           d["enrollment_id"], d["satisfied"], d["score"], d.get("comment"))
    except asyncpg.UniqueViolationError:
        raise Refused("already_evaluated", "this enrollment has already been evaluated") from None
    await conn.execute("UPDATE enrollments SET version = $2 WHERE id = $1", d["enrollment_id"], version)


# Reads for the API (this module owns these tables).

async def load_enrollment_detail(conn: asyncpg.Connection, enrollment_id: Any) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT e.*, p.host_id FROM enrollments e JOIN projects p ON p.id = e.project_id"
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


async def list_enrollment_rows(conn: asyncpg.Connection, *, project_id: Any, teacher_id: Any, region_code: str | None,
                               scope_org: str | None, scope_prefix: str | None, scope_teacher: Any, scope_host: Any,
                               after: Any, limit: int) -> list[asyncpg.Record]:
    """A keyset page ordered by id. The scope_* arguments narrow to what the reader may see:
    an org subtree (the org itself or codes under its GB/T 2260 prefix), a teacher, a host."""
    return await conn.fetch(
        """SELECT e.*, p.host_id FROM enrollments e JOIN projects p ON p.id = e.project_id
           WHERE ($1::uuid IS NULL OR e.project_id = $1) AND ($2::uuid IS NULL OR e.teacher_id = $2)
             AND ($3::text IS NULL OR e.region_code = $3)
             AND ($4::text IS NULL OR e.region_code = $4
                  OR ($5::text IS NOT NULL AND length(e.region_code) >= 6 AND e.region_code LIKE $5 || '%'))
             AND ($6::uuid IS NULL OR e.teacher_id = $6) AND ($7::uuid IS NULL OR p.host_id = $7)
             AND ($8::uuid IS NULL OR e.id > $8)
           ORDER BY e.id LIMIT $9""",
        project_id, teacher_id, region_code, scope_org, scope_prefix, scope_teacher, scope_host, after, limit)
