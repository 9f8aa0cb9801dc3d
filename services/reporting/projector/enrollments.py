"""Projection of enrollment streams: one row per enrollment (a place in a project) with the
status the rates count (domain/rates.py), the failure reason and the learner's evaluation.

Every update is guarded by the enrollment stream's version (`version < $n`), besides the
kernel's checkpoint, so a replayed event can never count a replacement or a status twice.
Events of one enrollment arrive in their recorded order (the Applier holds back an early one),
so the row always exists when a later event of its stream is applied.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from shared.calendar import SHANGHAI
from shared.envelope import Envelope, parse_uuid
from shared.projection import Projection, Traced

_FINISHED = {  # event type → (status, date field)
    "EnrollmentWithdrawn": ("withdrawn", None), "EnrollmentCompleted": ("completed", "completed_on"),
    "EnrollmentFailed": ("failed", "failed_on"), "NoShowRecorded": ("no_show", None),
}


def _uuid(value: Any) -> uuid.UUID:
    # Three per event on the batch path: the kernel's fast parser (the same UUIDs, or the same error).
    return parse_uuid(str(value))


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


async def _nominated(conn: asyncpg.Connection, e: Envelope) -> None:
    d = e.data
    await conn.execute(
        """INSERT INTO enrollments (enrollment_id, project_id, teacher_id, region_code, level, year, status,
                                    nominated_on, version)
           VALUES ($1, $2, $3, $4, $5, $6, 'nominated', $7, $8) ON CONFLICT (enrollment_id) DO NOTHING""",
        _uuid(d["enrollment_id"]), _uuid(d["project_id"]), _uuid(d["teacher_id"]), d["region_code"], d.get("level"),
        d.get("year"), _date(d.get("nominated_on")), e.stream_version)


async def _update(conn: asyncpg.Connection, e: Envelope, assignments: str, *args: Any) -> None:
    await conn.execute(f"UPDATE enrollments SET {assignments}, version = $2 WHERE enrollment_id = $1 AND version < $2",
                       _uuid(e.data["enrollment_id"]), e.stream_version, *args)


async def _replaced(conn: asyncpg.Connection, e: Envelope) -> None:
    # The place stays with the enrollment (domain/rates.py); only its holder changes.
    await _update(conn, e, "teacher_id = $3, replaced = replaced + 1", _uuid(e.data["teacher_id"]))


async def _checked_in(conn: asyncpg.Connection, e: Envelope) -> None:
    await _update(conn, e, "status = 'checked_in', checked_in_on = $3", _date(e.data["checked_in_on"]))


async def _finished(conn: asyncpg.Connection, e: Envelope) -> None:
    await _update(conn, e, "status = $3, finished_on = $4, reason = coalesce($5, reason)", _FINISHED[e.type][0],
                  _finished_on(e), e.data.get("reason"))


async def _evaluated(conn: asyncpg.Connection, e: Envelope) -> None:
    await _update(conn, e, "satisfied = $3, score = $4", bool(e.data["satisfied"]), e.data.get("score"))


# The batch path (apply_batch): each handler above as one set-based statement for a run of
# events of one type. (assignments over t.a, t.b, t.c; their array types; the values of an event)
_BULK_UPDATES: dict[str, tuple[str, tuple[str, ...], Any]] = {
    "NomineeReplaced": ("teacher_id = t.a, replaced = e.replaced + 1", ("uuid",),
                        lambda e: (_uuid(e.data["teacher_id"]),)),
    "TeacherCheckedIn": ("status = 'checked_in', checked_in_on = t.a", ("date",),
                         lambda e: (_date(e.data["checked_in_on"]),)),
    "EvaluationSubmitted": ("satisfied = t.a, score = t.b", ("bool", "int"),
                            lambda e: (bool(e.data["satisfied"]), e.data.get("score"))),
    **dict.fromkeys(_FINISHED, ("status = t.a, finished_on = t.b, reason = coalesce(t.c, e.reason)",
                                ("text", "date", "text"),
                                lambda e: (_FINISHED[e.type][0], _finished_on(e), e.data.get("reason")))),
}


def _finished_on(e: Envelope) -> date | None:
    # Withdrawals and no-shows carry no date: the day they were recorded, on the Shanghai calendar.
    on = _FINISHED[e.type][1]
    return _date(e.data.get(on)) if on else e.time.astimezone(SHANGHAI).date()


async def _bulk(conn: asyncpg.Connection, type_: str, events: list[Envelope]) -> None:
    if type_ == "TeacherNominated":
        rows = [(_uuid(d["enrollment_id"]), _uuid(d["project_id"]), _uuid(d["teacher_id"]), d["region_code"],
                 d.get("level"), d.get("year"), _date(d.get("nominated_on")), e.stream_version)
                for e in events for d in (e.data,)]
        await conn.execute(
            """INSERT INTO enrollments (enrollment_id, project_id, teacher_id, region_code, level, year, status,
                                        nominated_on, version)
               SELECT id, project, teacher, region, level, year, 'nominated', nominated_on, v
               FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::date[], $8::int[])
                    AS t(id, project, teacher, region, level, year, nominated_on, v)
               ON CONFLICT (enrollment_id) DO NOTHING""", *map(list, zip(*rows, strict=True)))
        return
    assignments, types, values = _BULK_UPDATES[type_]
    cols = "".join(f", ${i + 3}::{t}[]" for i, t in enumerate(types))
    names = ", ".join("abc"[: len(types)])
    rows = [(_uuid(e.data["enrollment_id"]), e.stream_version, *values(e)) for e in events]
    await conn.execute(
        f"""UPDATE enrollments e SET {assignments}, version = t.v
            FROM unnest($1::uuid[], $2::int[]{cols}) AS t(id, v, {names})
            WHERE e.enrollment_id = t.id AND e.version < t.v""", *map(list, zip(*rows, strict=True)))


class EnrollmentProjection(Projection):
    name = "reporting_enrollments"
    sources = ("enrollment",)
    _apply = {"TeacherNominated": _nominated, "NomineeReplaced": _replaced, "TeacherCheckedIn": _checked_in,
              "EvaluationSubmitted": _evaluated, **dict.fromkeys(_FINISHED, _finished)}
    handles = frozenset(_apply)
    follows = frozenset({"enrollment"})  # no checkpoint for teachers, orgs, projects (issue 19)
    # Consumer contract (shared/contracts.py): what it reads of enrollment's published events.
    reads = {
        "TeacherNominated": frozenset({"enrollment_id", "project_id", "teacher_id", "region_code", "level", "year",
                                       "nominated_on"}),
        "NomineeReplaced": frozenset({"enrollment_id", "teacher_id"}),
        "TeacherCheckedIn": frozenset({"enrollment_id", "checked_in_on"}),
        "EvaluationSubmitted": frozenset({"enrollment_id", "satisfied", "score"}),
        "EnrollmentWithdrawn": frozenset({"enrollment_id", "reason"}),
        "EnrollmentCompleted": frozenset({"enrollment_id", "completed_on"}),
        "EnrollmentFailed": frozenset({"enrollment_id", "reason", "failed_on"}),
        "NoShowRecorded": frozenset({"enrollment_id"}),
    }
    tables = ("enrollments",)

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        await self._apply[event.type](conn, event)

    async def apply_batch(self, conn: asyncpg.Connection, items: list[Traced]) -> None:
        """Runs of one event type as one statement each, in order. A run ends where the type
        changes or an enrollment comes round again, so each statement touches an enrollment at
        most once and every version guard sees the previous event already applied."""
        run: list[Envelope] = []
        ids: set[str] = set()
        for item in items:
            ev = item.event
            if run and (ev.type != run[0].type or ev.data["enrollment_id"] in ids):
                await _bulk(conn, run[0].type, run)
                run, ids = [], set()
            run.append(ev)
            ids.add(ev.data["enrollment_id"])
        if run:
            await _bulk(conn, run[0].type, run)

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE enrollments")
