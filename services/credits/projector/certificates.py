"""`certificates`: every CertificateIssued, with the entries it rests on (its validity is read
against them: queries/certificates.py)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg

from services.credits.domain.policy import tenths, to_hours
from shared.inline import InlineProjection

CERTIFICATES = InlineProjection("credits_certificates", ("certificates",))


@CERTIFICATES.handles("CertificateIssued")
async def certificate_issued(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO certificates (certificate_no, teacher_id, kind, start_year, end_year, label, hours_tenths,
                                     credits, target_tenths, jurisdiction_code, entry_ids, issued_on, credential)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
        data["certificate_no"], uuid.UUID(data["teacher_id"]), data["kind"], data["start_year"], data["end_year"],
        data["label"], tenths(to_hours(data["hours"])),
        None if data.get("credits") is None else Decimal(str(data["credits"])),
        tenths(to_hours(data["target"])), data["jurisdiction_code"], [uuid.UUID(e) for e in data["entry_ids"]],
        date.fromisoformat(data["issued_on"]), data["credential"],
    )
