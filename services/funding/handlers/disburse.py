"""Disburse earmarked training funds (专款专用, POST /v1/disbursements), by the org's own
administrator: for a project (which pays its host) or a named purpose. Stream
`disbursement-<id>`; the org's account is locked in the facts query."""

from __future__ import annotations

import uuid

from services.funding.domain.ledger import ProjectFacts, decide_disburse, require_own_admin
from services.funding.handlers.facts import ORGS_AND_ACCOUNTS, Facts, locked_accounts
from services.funding.titles import problem
from shared.eventstore import NO_STREAM
from shared.unit_of_work import Reply, UnitOfWork

_FACTS = f"""
WITH {locked_accounts(codes="$1")}
SELECT {ORGS_AND_ACCOUNTS},
       (SELECT jsonb_build_object('year', year, 'host_id', host_id) FROM projects WHERE id = $3) AS project,
       EXISTS (SELECT 1 FROM hosts WHERE id = $4) AS host_known"""


async def handle(uow: UnitOfWork, org_code: str, year: int, amount_fen: int, purpose: str,
                 project_id: uuid.UUID | None, host_id: uuid.UUID | None) -> Reply:
    disbursement_id = str(uuid.uuid4())
    row = await uow.conn.fetchrow(_FACTS, [org_code], year, project_id, host_id)
    facts = Facts(row, year)
    org = facts.org(org_code)
    require_own_admin(uow.principal.role, uow.principal.org, org)
    project = None
    if project_id is not None:
        if row["project"] is None:
            raise problem("project_not_found", f"no project {project_id}", 404)
        project = ProjectFacts(str(project_id), row["project"]["year"], row["project"]["host_id"])
    if host_id is not None and not row["host_known"]:
        raise problem("host_not_found", f"no host {host_id}", 404)
    events = decide_disburse(disbursement_id, org, year, amount_fen, purpose, project,
                             str(host_id) if host_id else None, facts.account(org_code))
    uow.record(f"disbursement-{disbursement_id}", NO_STREAM, events)
    return Reply(201, events[0][1], {"ETag": '"1"', "Location": f"/v1/disbursements/{disbursement_id}"})
