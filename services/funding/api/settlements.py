"""HTTP route: POST /v1/settlements {project_id, county_code, fee_per_participant_fen} — settle
a project's per-participant fee with its host for one county (001 §6.7), by the county's admin.

The participants are counted here, from the check-ins this service has projected from the
enrollment stream (services/funding/domain/settlement.py says who counts). The amount is
charged to the county's training funds for the project's year (409 insufficient_funds when it
has not enough) and recorded as SettlementCalculated with its derivation. A recomputation pays
only the difference: 201 with the new event, or 200 and nothing recorded when nothing changed.
Concurrent settlements of one (project, county) serialise on the stream version (409).
"""

from __future__ import annotations

import uuid

import asyncpg
from fastapi import APIRouter

from services.funding.api.common import (
    Fen,
    In,
    OrgCode,
    expected_version,
    load_org,
    lock_stream,
    problem,
    refusals,
    require_org_admin,
)
from services.funding.domain import settlement as domain
from services.funding.projector import record
from shared.aggregate import load_state
from shared.auth import require_role, require_within
from shared.commands import Command

router = APIRouter(tags=["settlements"])


class SettlementCreate(In):
    project_id: uuid.UUID
    county_code: OrgCode
    fee_per_participant_fen: Fen  # the contracted fee (中标课时费标准) per participant


async def participants(conn: asyncpg.Connection, project_id: uuid.UUID, county_code: str) -> int:
    """Distinct teachers checked in to the project from the county: their school's code starts
    with the county's (a school is its county's code plus digits); while the teacher's school is
    not yet known here, the nominating region stands in."""
    return await conn.fetchval(
        """SELECT count(DISTINCT c.teacher_id) FROM checkins c LEFT JOIN teachers t ON t.id = c.teacher_id
           WHERE c.project_id = $1 AND starts_with(coalesce(t.school_code, c.region_code), $2)""",
        project_id, county_code)


@router.post("/v1/settlements", status_code=201, summary="Settle a project's per-participant fee for a county",
             responses={200: {"description": "already settled with these figures: nothing recorded",
                              "content": {"application/json": {"schema": {"type": "object"}}}}})
async def settle(body: SettlementCreate, cmd: Command):
    require_role(cmd.principal, "county_admin")
    require_within(cmd.principal, body.county_code)
    stream_id = f"settlement-{body.project_id}-{body.county_code}"
    async with cmd.begin() as tx:
        if tx.replay:
            return tx.replay
        county = await load_org(tx.conn, body.county_code)
        require_org_admin(cmd.principal, county)
        if county.kind != "county":
            raise problem("not_a_county", f"{county.code} is a {county.kind}", 422)
        project = await tx.conn.fetchrow("SELECT year, host_id FROM projects WHERE id = $1", body.project_id)
        if project is None:
            raise problem("project_not_found", f"no project {body.project_id}", 404)
        await lock_stream(tx.conn, stream_id)
        state, version = await load_state(tx.conn, cmd.store, stream_id, domain.evolve, domain.Settled())
        expected = expected_version(cmd, stream_id, version)
        # Counted inside the transaction; a check-in projected after this read is paid next time.
        counted = await participants(tx.conn, body.project_id, county.code)
        with refusals():
            events = domain.decide_settle(
                state, settlement_id=str(uuid.uuid4()), project_id=str(body.project_id), county_code=county.code,
                host_id=str(project["host_id"]) if project["host_id"] else None, year=project["year"],
                participants=counted, fee_per_participant_fen=body.fee_per_participant_fen)
            await record(tx.conn, cmd.store, stream_id, expected, events, tx.metadata)
        if events:
            out = events[0][1]
        else:
            out = {"project_id": str(body.project_id), "county_code": county.code, "participants": counted,
                   "fee_per_participant_fen": body.fee_per_participant_fen, "amount_fen": state.settled_fen,
                   "previously_settled_fen": state.settled_fen, "delta_fen": 0}
        return await tx.respond(201 if events else 200, {**out, "recorded": bool(events)},
                                headers={"ETag": f'"{version + len(events)}"'})
