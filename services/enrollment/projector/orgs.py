"""Read model: the org tree and host institutions (承办单位).

OrgRegistered and HostRegistered are upserts (a re-registration renames), so their handlers
write whole rows keyed by code / id.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from shared.inline import InlineProjection

ORGS = InlineProjection("enrollment_orgs", ("orgs", "hosts"))


@ORGS.handles("OrgRegistered")
async def _org(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO orgs (code, name, kind, parent_code, version) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
               parent_code = EXCLUDED.parent_code, version = EXCLUDED.version""",
        data["code"], data["name"], data["kind"], data.get("parent_code"), version,
    )


@ORGS.handles("HostRegistered")
async def _host(conn: asyncpg.Connection, stream_id: str, version: int, data: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO hosts (id, name, province_code, version) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, province_code = EXCLUDED.province_code,
               version = EXCLUDED.version""",
        data["host_id"], data["name"], data["province_code"], version,
    )
