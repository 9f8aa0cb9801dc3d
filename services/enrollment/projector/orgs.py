"""Read model: the org tree and host institutions (承办单位).

OrgRegistered and HostRegistered are upserts (a re-registration renames), so their handlers
write whole rows keyed by code / id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from shared.inline import InlineProjection, Pending

ORGS = InlineProjection("enrollment_orgs", ("orgs", "hosts"))


@ORGS.handles("OrgRegistered")
async def _org(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO orgs (code, name, kind, parent_code, version) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
               parent_code = EXCLUDED.parent_code, version = EXCLUDED.version""",
        data["code"], data["name"], data["kind"], data.get("parent_code"), version,
    )


@ORGS.handles_many("OrgRegistered")
async def _orgs(conn: asyncpg.Connection, events: Sequence[Pending]) -> None:
    """A run of them in one statement (an org import, a rebuild). An org registered and renamed
    in the same run takes its last row, as the one-by-one upserts would leave it (one statement
    may not upsert a row twice)."""
    last = {e.data["code"]: e for e in events}
    if not last:
        return
    rows = [(code, e.data["name"], e.data["kind"], e.data.get("parent_code"), e.version) for code, e in last.items()]
    await conn.execute(
        """INSERT INTO orgs (code, name, kind, parent_code, version)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[])
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
               parent_code = EXCLUDED.parent_code, version = EXCLUDED.version""",
        *(list(column) for column in zip(*rows, strict=True)))


@ORGS.handles("HostRegistered")
async def _host(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO hosts (id, name, province_code, version) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, province_code = EXCLUDED.province_code,
               version = EXCLUDED.version""",
        data["host_id"], data["name"], data["province_code"], version,
    )
