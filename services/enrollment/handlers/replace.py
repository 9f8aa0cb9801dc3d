"""Replacement (换人) before check-in, by an admin over the nominating region: another teacher of
the region takes the place, its quota and its national slot. The new teacher is locked
(guards.py) before their national record and places are read."""

from __future__ import annotations

import uuid
from datetime import date

from services.enrollment import guards
from services.enrollment.domain.nomination import Candidate, decide_replacement
from shared.orgtree import within
from shared.refusal import Refused
from shared.unit_of_work import Reply, UnitOfWork

from .access import region_admin
from .enrollment_stream import load, record

_FACTS = f"SELECT (SELECT school_code FROM teachers WHERE id = $2) AS teacher_school, {guards.CANDIDATE_FACTS}"


def locks(teacher_id: uuid.UUID) -> list[str]:
    """The lock the handler takes first (the new nominee's), for the route to name up front."""
    return [guards.lock_name("teacher", teacher_id)]


async def handle(uow: UnitOfWork, enrollment_id: uuid.UUID, teacher_id: uuid.UUID, today: date) -> Reply:
    loaded = await load(uow, enrollment_id, region_admin)
    await guards.lock(uow, "teacher", teacher_id)
    facts = await uow.conn.fetchrow(_FACTS, loaded.project.project_id, teacher_id)
    if facts["teacher_school"] is None:
        raise Refused("teacher_not_found", f"no teacher {teacher_id}", 404)
    region = loaded.state.region_code or ""
    candidate = Candidate(in_region=await within(uow.conn, facts["teacher_school"], region),
                          history=guards.national_history(facts), in_project=facts["in_project"])
    return record(uow, loaded, decide_replacement(loaded.state, teacher_id=str(teacher_id), project=loaded.project,
                                                  candidate=candidate, policy=loaded.policy(today)))
