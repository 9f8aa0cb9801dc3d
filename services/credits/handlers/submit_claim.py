"""POST /v1/claims: a claim for hours earned outside the system (001 §5.4 备案), by the teacher
themself or an admin over the teacher's school. Decided by domain/claims.py decide_claim under
the policy in force where the teacher works on the day the hours were earned."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from services.credits.domain.claims import claim_from_data, decide_claim
from services.credits.queries.ledger import teacher, teacher_not_found
from services.credits.queries.policies import chain_and_book
from services.credits.titles import problem
from services.credits.views import claim_json
from shared.auth import can_read
from shared.eventstore import NO_STREAM
from shared.unit_of_work import Reply, UnitOfWork


async def handle(uow: UnitOfWork, *, teacher_id: uuid.UUID, hours: Decimal, category: str, source: str,
                 earned_on: date, evidence: str, today: date) -> Reply:
    p = uow.principal
    if p.role == "teacher" and p.sub != str(teacher_id):
        raise problem("out_of_scope", "a teacher claims only their own hours", 403)
    row = await teacher(uow.conn, teacher_id)
    if row is None:
        raise teacher_not_found(teacher_id)
    school = row["school_code"]
    if p.role != "teacher" and not can_read(p, school):
        raise problem("out_of_scope", "this teacher is outside your jurisdiction", 403)
    chain, book = await chain_and_book(uow.conn, school)
    claim_id = str(uuid.uuid4())
    events = decide_claim(None, claim_id=claim_id, teacher_id=str(teacher_id), org_code=school, hours=hours,
                          category=category, source=source, earned_on=earned_on, evidence=evidence, today=today,
                          policy=book.for_chain(chain, earned_on))
    uow.record(f"claim-{claim_id}", NO_STREAM, events)
    [(_, opened)] = events  # one HoursClaimed
    return Reply(201, claim_json(claim_from_data(opened), 1), {"ETag": '"1"', "Location": f"/v1/claims/{claim_id}"})
