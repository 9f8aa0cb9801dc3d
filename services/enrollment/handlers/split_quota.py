"""A city gives one of its counties places out of its own quota (004 §2.2, domain/quota_split.py),
by the city's own admin (checked by the route: the principal's org is the city).

The city's quota row is locked FOR UPDATE first, by a statement of its own: splits of one city
queue there, and the next statement's snapshot (READ COMMITTED) then includes whatever the
previous split committed, the county's row included, which it locks in turn. The city's `used`
and `split` and the county's `used` are as the last nomination or split committed them. A
nomination of the city writes `used + 1` against the row's CHECK (used + split ≤ places) after
this commits, and runs again if it lost the race (guards.py). Splits and the organizer's
allocations of one project also append to its stream, so two of them never both commit (the
later is a 409); the guards' upserts refuse to mix a county's two sources besides (a backstop)."""

from __future__ import annotations

import uuid

from services.enrollment.domain.project import ProjectState, evolve
from services.enrollment.domain.quota_split import SplitFacts, decide_split
from shared.aggregate import load_state
from shared.unit_of_work import Reply, UnitOfWork

from . import STORE
from .project_stream import Loaded, record

_CITY = """SELECT places, used, split FROM project_quotas WHERE project_id = $1 AND region_code = $2 FOR UPDATE"""
_COUNTY = """
WITH county AS (SELECT places, used, split_from FROM project_quotas WHERE project_id = $1 AND region_code = $2
                FOR UPDATE)
SELECT (SELECT row_to_json(c) FROM county c) AS county, (SELECT kind FROM orgs WHERE code = $2) AS county_kind,
       (SELECT parent_code FROM orgs WHERE code = $2) AS county_parent
"""


async def handle(uow: UnitOfWork, project_id: uuid.UUID, city_code: str, county_code: str, places: int) -> Reply:
    stream = f"project-{project_id}"
    state, version = await load_state(uow.conn, STORE, stream, evolve, ProjectState())
    loaded = Loaded(project_id, state, uow.expect(stream, version))
    city = dict(await uow.conn.fetchrow(_CITY, project_id, city_code) or {})
    row = await uow.conn.fetchrow(_COUNTY, project_id, county_code)
    county = row["county"] or {}
    facts = SplitFacts(city_places=city.get("places"), city_used=city.get("used", 0), city_split=city.get("split", 0),
                       county_kind=row["county_kind"], county_parent=row["county_parent"],
                       county_places=county.get("places"), county_used=county.get("used", 0),
                       county_split_from=county.get("split_from"))
    events = decide_split(state, city_code, county_code, places, facts)
    return record(uow, loaded, events, 200, {"project_id": str(project_id), "city_code": city_code,
                                             "region_code": county_code, "places": places})
