"""A city gives one of its counties places out of its own quota (004 §2.2, domain/quota_split.py),
by the city's own admin (checked by the route: the principal's org is the city).

Both quota rows are locked FOR UPDATE in the facts query, the city's first (ORDER BY, so two
splits of one city queue on the city's row and never deadlock on the counties'): the city's
`used` and `split` and the county's `used` are then as the last nomination or split committed
them. A nomination of the city writes `used + 1` against the row's CHECK (used + split ≤ places)
after this commits, and runs again if it lost the race (guards.py)."""

from __future__ import annotations

import uuid

from services.enrollment.domain.project import ProjectState, evolve
from services.enrollment.domain.quota_split import SplitFacts, decide_split
from shared.aggregate import load_state
from shared.unit_of_work import Reply, UnitOfWork

from . import STORE
from .project_stream import Loaded, record

_FACTS = """
WITH rows AS (SELECT region_code, places, used, split, split_from FROM project_quotas
              WHERE project_id = $1 AND region_code IN ($2, $3)
              ORDER BY region_code = $2 DESC FOR UPDATE)
SELECT (SELECT row_to_json(r) FROM rows r WHERE r.region_code = $2) AS city,
       (SELECT row_to_json(r) FROM rows r WHERE r.region_code = $3) AS county,
       (SELECT kind FROM orgs WHERE code = $3) AS county_kind,
       (SELECT parent_code FROM orgs WHERE code = $3) AS county_parent
"""


async def handle(uow: UnitOfWork, project_id: uuid.UUID, city_code: str, county_code: str, places: int) -> Reply:
    stream = f"project-{project_id}"
    state, version = await load_state(uow.conn, STORE, stream, evolve, ProjectState())
    loaded = Loaded(project_id, state, uow.expect(stream, version))
    row = await uow.conn.fetchrow(_FACTS, project_id, city_code, county_code)
    city, county = row["city"] or {}, row["county"] or {}
    facts = SplitFacts(city_places=city.get("places"), city_used=city.get("used", 0), city_split=city.get("split", 0),
                       county_kind=row["county_kind"], county_parent=row["county_parent"],
                       county_places=county.get("places"), county_used=county.get("used", 0),
                       county_split_from=county.get("split_from"))
    events = decide_split(state, city_code, county_code, places, facts)
    return record(uow, loaded, events, 200, {"project_id": str(project_id), "city_code": city_code,
                                             "region_code": county_code, "places": places})
