"""Set a region's places in a project (参训指标), by an admin over the organizer. The region's
quota row is locked FOR UPDATE (guards.py) before `used` is read, so a nomination committing
meanwhile is counted: a quota never goes below the places already used."""

from __future__ import annotations

import uuid

from services.enrollment.domain.project_refs import decide_quota
from shared.unit_of_work import Reply, UnitOfWork

from .project_stream import load, record

_FACTS = """
WITH quota AS (SELECT used, split, split_from FROM project_quotas WHERE project_id = $1 AND region_code = $2
               FOR UPDATE)
SELECT (SELECT kind FROM orgs WHERE code = $2) AS region_kind, (SELECT used FROM quota) AS used,
       coalesce((SELECT split FROM quota), 0) AS split, (SELECT split_from FROM quota) AS split_from
"""


async def handle(uow: UnitOfWork, project_id: uuid.UUID, region_code: str, places: int) -> Reply:
    loaded = await load(uow, project_id, "organize")
    facts = await uow.conn.fetchrow(_FACTS, project_id, region_code)
    events = decide_quota(loaded.state, region_code, facts["region_kind"], places, facts["used"], facts["split"],
                          facts["split_from"])
    return record(uow, loaded, events, 200, {"project_id": str(project_id), "region_code": region_code,
                                             "places": places})
