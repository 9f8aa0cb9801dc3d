"""POST /v1/teachers/{id}/certificates: a continuing-education certificate (001 §6.6) for a school
year or a cycle whose target is met. A still-valid certificate for the same period and hours is
answered again (200) instead of issuing a second one. Decided by domain/certificates.py
(period_for, decide_issue)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from services.credits.domain.certificates import RANDOM_BYTES, certificate_no, decide_issue, period_for
from services.credits.domain.policy import tenths
from services.credits.queries.certificates import latest_for
from services.credits.queries.ledger import load_ledger
from services.credits.views import certificate_json
from shared.eventstore import NO_STREAM
from shared.unit_of_work import Reply, UnitOfWork

Sign = Callable[[dict[str, Any]], dict[str, Any]]  # the certificate's facts → its signed credential
NO_JURISDICTION = "000000"


async def handle(uow: UnitOfWork, teacher_id: uuid.UUID, year: int | None, cycle: int | None, today: date,
                 sign: Sign) -> Reply:
    # One issuer per teacher at a time, taken before the ledger is read: two clicks must not
    # both find no certificate and mint two.
    await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 17))", str(teacher_id))
    ledger, _ = await load_ledger(uow.conn, uow.principal, teacher_id, today)
    period = period_for(ledger, year, cycle)
    jurisdiction = period.policy.jurisdiction_code if period.policy else NO_JURISDICTION
    number = certificate_no(jurisdiction, period, secrets.token_bytes(RANDOM_BYTES))
    facts = decide_issue(period, teacher_id=str(teacher_id), current_year=ledger.current_year, today=today,
                         certificate_no=number)
    existing = await latest_for(uow.conn, teacher_id, period.kind, period.start_year, tenths(period.hours))
    if existing is not None and existing[1]:
        shown = existing[0]["certificate_no"]
        return Reply(200, certificate_json(existing[0], True), {"Location": f"/v1/certificates/{shown}"})
    data = {**facts, "credential": sign(facts)}
    uow.record(f"certificate-{number}", NO_STREAM, [("CertificateIssued", data)])
    return Reply(201, certificate_json(data, True), {"Location": f"/v1/certificates/{number}"})
