"""Register one teacher on the roster (POST /v1/teachers). The national ID number goes no
further than pii.py: the event carries the teacher id and work facts, the reply the masked
number. `check_teacher` is the same check every row of a roster import passes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from services.enrollment import pii
from services.enrollment.domain import roster
from services.enrollment.titles import problem
from shared.eventstore import NO_STREAM
from shared.unit_of_work import Reply, UnitOfWork

from .register_org import load_org


def public(teacher_id: uuid.UUID, row: roster.TeacherRow, version: int) -> dict[str, Any]:
    return {"id": str(teacher_id), "name": row.name, "national_id_masked": row.national_id.masked,
            "school_code": row.school_code, "subject": row.subject, "stage": row.stage, "title": row.title,
            "hired_on": row.hired_on.isoformat(), "version": version}


async def handle(uow: UnitOfWork, vault: pii.PiiVault, fields: Mapping[str, object], today: date) -> Reply:
    row, issues = roster.check_teacher(fields, today)
    if row is None:
        code = "invalid_national_id" if any(f == "national_id" for f, _ in issues) else "invalid_teacher"
        errors = [{"field": f, "reason": r} for f, r in issues]
        raise problem(code, f"{len(issues)} problem(s) found", 422, errors=errors)
    teacher_id = uuid.uuid4()
    events = roster.decide_register_teacher(None, str(teacher_id), row, await load_org(uow.conn, row.school_code))
    roster.check_new_people(await pii.claim_identities(uow.conn, vault, [(teacher_id, row.name, row.national_id)]), 1)
    uow.record(f"teacher-{teacher_id}", NO_STREAM, events)
    return Reply(201, public(teacher_id, row, 1),
                 {"ETag": '"1"', "Location": f"/v1/teachers/{teacher_id}"})
