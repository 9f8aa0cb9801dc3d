"""Org tree (province → city → county → school) and host institutions, as deciders.

Org codes follow GB/T 2260: a province is NN0000, a city NNNN00 under its province, a county
NNNNNN under its city — or directly under the province when the city digits are 90, the
standard's mark for 省直辖县级行政区划 (e.g. 419001 济源 under 410000, seed 003). A school is its
county's code plus 3–6 digits of the county's own numbering (DOMAIN.md: a school is a child of
its county), so the admin scoping of shared.orgs.org_within works by prefix.

OrgRegistered is an upsert: re-registering with a new name records the rename; the kind and
parent never change, because every scope check and every report roll-up hangs off them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.orgs import DIRECT_COUNTY_MARK, gbt_parent, kind_of
from shared.refusal import Refused

from .national_id import PROVINCE_PREFIXES

KINDS = ("province", "city", "county", "school")
SCHOOL_SUFFIX_DIGITS = (3, 6)


@dataclass(frozen=True, slots=True)
class Org:
    code: str
    name: str
    kind: str
    parent_code: str | None


@dataclass(frozen=True, slots=True)
class Host:
    host_id: str
    name: str
    province_code: str


def expected_parents(code: str, kind: str) -> tuple[str, ...] | None:
    """The parent codes GB/T 2260 allows for `code` registered as `kind`; None if the code has
    another shape. An empty tuple means "no parent" (a province). The parent itself is the one
    the code's shape implies (shared.orgs.gbt_parent); what is ours is which shapes may register."""
    if not (code.isascii() and code.isdigit()) or kind_of(code) != kind:
        return None
    if kind == "school":
        lo, hi = SCHOOL_SUFFIX_DIGITS
        if not 6 + lo <= len(code) <= 6 + hi or expected_parents(code[:6], "county") is None:
            return None
    elif len(code) != 6 or code[:2] not in PROVINCE_PREFIXES:
        return None
    elif kind == "city" and code[2:4] == DIRECT_COUNTY_MARK:
        return None  # 90 marks counties under the province, never a city
    elif kind == "county" and code[2:4] == "00":
        return None
    parent = gbt_parent(code)
    return () if parent is None else (parent,)


def parent_kind(kind: str, parent_code: str) -> str:
    if kind == "county" and kind_of(parent_code) == "province":
        return "province"  # 省直辖县级行政区划
    return {"city": "province", "county": "city", "school": "county"}[kind]


def evolve_org(state: Org | None, event_type: str, data: dict[str, Any]) -> Org | None:
    if event_type == "OrgRegistered":
        return Org(data["code"], data["name"], data["kind"], data.get("parent_code"))
    return state


def decide_register_org(state: Org | None, wanted: Org, parent: Org | None) -> list[tuple[str, dict[str, Any]]]:
    """`parent` is the registered org at `wanted.parent_code` (None if absent or not given)."""
    allowed = expected_parents(wanted.code, wanted.kind) if wanted.kind in KINDS else None
    if allowed is None:
        raise Refused("invalid_org_code", f"code {wanted.code} is not a GB/T 2260 {wanted.kind} code", 422)
    if allowed == ():
        if wanted.parent_code is not None:
            raise Refused("invalid_parent", "a province has no parent", 422)
    else:
        if wanted.parent_code not in allowed:
            raise Refused("invalid_parent",
                          f"the parent of {wanted.kind} {wanted.code} must be {' or '.join(allowed)}", 422)
        if parent is None:
            raise Refused("parent_not_found", f"parent {wanted.parent_code} is not registered", 422)
        if parent.kind != parent_kind(wanted.kind, wanted.parent_code):
            raise Refused("invalid_parent", f"parent {parent.code} is a {parent.kind}", 422)
    if state is not None and (state.kind, state.parent_code) != (wanted.kind, wanted.parent_code):
        raise Refused("org_immutable", f"org {state.code} is registered as {state.kind} under "
                      f"{state.parent_code or 'no parent'}; only its name can change")
    if state == wanted:
        return []  # an identical PUT changes nothing
    return [("OrgRegistered", {"code": wanted.code, "name": wanted.name, "kind": wanted.kind,
                               "parent_code": wanted.parent_code})]


def evolve_host(state: Host | None, event_type: str, data: dict[str, Any]) -> Host | None:
    if event_type == "HostRegistered":
        return Host(data["host_id"], data["name"], data["province_code"])
    return state


def decide_register_host(state: Host | None, wanted: Host, province: Org | None) -> list[tuple[str, dict[str, Any]]]:
    if province is None or province.kind != "province":
        raise Refused("province_not_found", f"province {wanted.province_code} is not registered", 422)
    if state is not None and state.province_code != wanted.province_code:
        # A host's province decides who administers it; moving it is a new registration.
        raise Refused("host_immutable", f"host is registered in province {state.province_code}")
    if state == wanted:
        return []
    return [("HostRegistered", {"host_id": wanted.host_id, "name": wanted.name,
                                "province_code": wanted.province_code})]
