"""Register an org of the tree, or rename it (PUT /v1/orgs/{code}): 201 the first time, 200 on a
rename, 200 with the unchanged ETag on an identical repeat. Its parent must be registered."""

from __future__ import annotations

import asyncpg

from services.enrollment.domain.orgs import Org, decide_register_org, evolve_org
from shared.aggregate import load_state
from shared.unit_of_work import Reply, UnitOfWork

from . import STORE


async def load_org(conn: asyncpg.Connection, code: str | None) -> Org | None:
    """An org from the read model, which a registration updates in its own transaction."""
    if code is None:
        return None
    row = await conn.fetchrow("SELECT code, name, kind, parent_code FROM orgs WHERE code = $1", code)
    return Org(row["code"], row["name"], row["kind"], row["parent_code"]) if row else None


async def handle(uow: UnitOfWork, wanted: Org) -> Reply:
    stream = f"org-{wanted.code}"
    state, version = await load_state(uow.conn, STORE, stream, evolve_org, None)
    expected = uow.expect(stream, version)
    events = decide_register_org(state, wanted, await load_org(uow.conn, wanted.parent_code))
    uow.record(stream, expected, events)
    now = version + len(events)
    body = {"code": wanted.code, "name": wanted.name, "kind": wanted.kind, "parent_code": wanted.parent_code,
            "version": now}
    return Reply(201 if version == 0 else 200, body, {"ETag": f'"{now}"', "Location": f"/v1/orgs/{wanted.code}"})
