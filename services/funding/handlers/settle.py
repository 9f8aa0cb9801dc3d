"""Settle a project's per-participant fee with its host for one county (001 §6.7; POST
/v1/settlements), by the county's own administrator. Stream `settlement-<project>-<county>`.

The participants are counted in the facts query, from the check-ins this service keeps from
enrollment's TeacherCheckedIn (projector/directory.py): the distinct teachers of the project
whose school lies in the county — or, while the teacher's school is not yet known here, whose
nominating region does. A check-in projected after this read is paid by the next settlement.
The county's account for the project's year is locked in the same query."""

from __future__ import annotations

import uuid

from services.funding.domain import settlement
from services.funding.domain.ledger import require_own_admin
from services.funding.handlers import STORE
from services.funding.handlers.facts import ORGS_AND_ACCOUNTS, Facts, lock_stream, locked_accounts
from services.funding.titles import problem
from shared.aggregate import load_state
from shared.orgs import subtree_prefix
from shared.orgtree import subtree_sql
from shared.unit_of_work import Reply, UnitOfWork

# $1: [county_code], $2: the project, $3: the county's code, $4: its subtree prefix.
_FACTS = f"""
WITH project AS (SELECT year, host_id FROM projects WHERE id = $2),
     {locked_accounts(codes="$1", year="(SELECT year FROM project)")}
SELECT {ORGS_AND_ACCOUNTS}, (SELECT year FROM project) AS year, (SELECT host_id FROM project) AS host_id,
       EXISTS (SELECT 1 FROM project) AS project_known,
       (SELECT count(DISTINCT c.teacher_id) FROM checkins c LEFT JOIN teachers t ON t.id = c.teacher_id
        WHERE c.project_id = $2 AND {subtree_sql("coalesce(t.school_code, c.region_code)", "$3", "$4")})
           AS participants"""


async def handle(uow: UnitOfWork, project_id: uuid.UUID, county_code: str, fee_per_participant_fen: int) -> Reply:
    stream_id = f"settlement-{project_id}-{county_code}"
    await lock_stream(uow.conn, stream_id)
    state, version = await load_state(uow.conn, STORE, stream_id, settlement.evolve, settlement.Settled())
    row = await uow.conn.fetchrow(_FACTS, [county_code], project_id, county_code, subtree_prefix(county_code))
    facts = Facts(row, row["year"] or 0)
    county = facts.org(county_code)
    require_own_admin(uow.principal.role, uow.principal.org, county)
    settlement.require_county(county)
    if not row["project_known"]:
        raise problem("project_not_found", f"no project {project_id}", 404)
    expected = uow.expect(stream_id, version)
    events = settlement.decide_settle(
        state, settlement_id=str(uuid.uuid4()), project_id=str(project_id), county_code=county.code,
        host_id=str(row["host_id"]) if row["host_id"] else None, year=row["year"], participants=row["participants"],
        fee_per_participant_fen=fee_per_participant_fen, account=facts.account(county.code))
    uow.record(stream_id, expected, events)
    if events:
        out = events[0][1]
    else:
        out = {"project_id": str(project_id), "county_code": county.code, "participants": row["participants"],
               "fee_per_participant_fen": fee_per_participant_fen, "amount_fen": state.settled_fen,
               "previously_settled_fen": state.settled_fen, "delta_fen": 0}
    return Reply(201 if events else 200, {**out, "recorded": bool(events)}, {"ETag": f'"{version + len(events)}"'})
