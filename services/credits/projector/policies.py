"""`policies`: every PolicyPublished, keyed by jurisdiction and stream version (a later version
of the same `effective_from` corrects it; domain/policies.py PolicyBook reads them in order)."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from shared.inline import InlineProjection

POLICIES = InlineProjection("credits_policies", ("policies",))


@POLICIES.handles("PolicyPublished")
async def policy_published(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO policies (jurisdiction_code, version, effective_from, published_on, body)
           VALUES ($1, $2, $3, $4, $5)""",
        data["jurisdiction_code"], version, date.fromisoformat(data["effective_from"]),
        date.fromisoformat(data["published_on"]), data,
    )
