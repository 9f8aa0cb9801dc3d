"""A city splits its places among its counties (参训指标分配, 004 §2.2: places are allocated to
cities, which allocate them on to their counties; DOMAIN.md "a project's places are allocated to
regions (city/county); a region nominates within its quota").

The model: the organizer allocates a city its quota (project_refs.decide_quota); the city's
admins give each of its counties a sub-quota out of it. The city may also nominate directly
(its admins nominate teachers of its whole subtree under the city's own code), so its places are
shared: what it split to counties plus what its own nominations use never exceed its quota.
A county nominates within its sub-quota exactly as within a quota of the organizer's. A county
holds places from one source only: the organizer's allocation or its city's split, never both.
Stdlib only; the handler reads the facts under the quota rows' locks (guards.py lock 3).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.refusal import Refused

from .project import Events, ProjectState, plan_of


@dataclass(frozen=True)
class SplitFacts:
    """The two quota rows and the county's place in the org tree, as read under the row locks."""

    city_places: int | None  # the city's quota in the project; None: the city holds none
    city_used: int  # places the city's own nominations use
    city_split: int  # places the city already gave its counties
    county_kind: str | None  # None: no such org
    county_parent: str | None
    county_places: int | None  # the county's current places; None: none yet
    county_used: int
    county_split_from: str | None  # the city that gave the county its places; None: the organizer


def decide_split(state: ProjectState, city_code: str, county_code: str, places: int, f: SplitFacts) -> Events:
    """004 §2.2: the city gives `county_code` `places` of its own quota (setting it again moves
    places back or on). Refused: the project inactive (409), a negative figure (422), no quota
    for the city (409 no_quota), a region that is not one of the city's counties (404/422), a
    county holding the organizer's places (409), fewer places than the county already uses
    (409 quota_below_used), or more in total than the city has left (409 over_split)."""
    plan = plan_of(state)
    if state.status in ("closed", "cancelled"):
        raise Refused("project_inactive", f"the project is {state.status}")
    if places < 0:
        raise Refused("bad_places", "places must be zero or more", 422)
    if f.city_places is None:
        raise Refused("no_quota", f"city {city_code} holds no places in this project")
    if f.county_kind is None:
        raise Refused("region_not_found", f"no org {county_code}", 404)
    if f.county_kind != "county" or f.county_parent != city_code:
        raise Refused("region_not_under_city", f"{county_code} is not a county of {city_code}", 422)
    if f.county_places is not None and f.county_split_from != city_code:
        raise Refused("quota_source_conflict", f"{county_code} holds places allocated by the organizer")
    if f.county_used > places:
        raise Refused("quota_below_used", f"{f.county_used} places are already used in {county_code}")
    split = f.city_split - (f.county_places or 0) + places
    if f.city_used + split > f.city_places:
        left = f.city_places - f.city_used - (f.city_split - (f.county_places or 0))
        raise Refused("over_split", f"city {city_code} has {left} of its {f.city_places} places left to give "
                                    f"{county_code} ({f.city_used} used by its own nominations, "
                                    f"{f.city_split - (f.county_places or 0)} given to its other counties)")
    return [("QuotaSplit", {"project_id": plan.project_id, "city_code": city_code, "region_code": county_code,
                            "places": places})]
