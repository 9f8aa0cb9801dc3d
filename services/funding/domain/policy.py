"""Funding policy per jurisdiction, versioned by date (DOMAIN.md "Funding (经费)").

A jurisdiction is an org above school level: a province (Jiangxi 360000), a county-level unit
(Jiyuan 419001), a district (the Hangzhou district of seed 002). Each publication carries the
date it takes effect; a later publication supersedes earlier ones from its date on, and a
second publication with the same date corrects that version (a new event, never an edit).

An org is judged under the policy of its nearest jurisdiction — itself, then its ancestors —
that has a version in force on the judging date. The whole policy applies, never a mix of
two jurisdictions' rules. Shares are exact `Decimal`s (≤ 6 decimal places) and travel in
events as strings, so no float ever touches a threshold.

`district_payroll_share_max` keeps its published name (old FundingPolicyPublished events read as
they are) but means the GUIDE's upper end (003 §5.2's 1.5%–2.5% is a floor plus a guide, issue
20): domain/compliance shows it as `guide_max`; only the minimum decides compliance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from shared.refusal import Refused

SHARE_FIELDS = ("school_public_funds_share", "district_payroll_share_min", "district_payroll_share_max",
                "pass_down_min")
RULES = ("school_public_funds_share", "district_payroll_share", "pass_down_share")
BASES = ("public_funds_budget", "daily_public_funds")  # 公用经费预算总额 / 日常公用经费总额

# Where each kind of rule comes from, used when a publication does not cite its own source.
DEFAULT_SOURCES = {
    "school_public_funds_share": "001 §6.7; 003 §5.2; 002 §4.2.2",
    "district_payroll_share": "002 §4.2.2; 003 §5.2",
    "pass_down_share": "002 §4.2.2",
}


@dataclass(frozen=True)
class FundingPolicy:
    jurisdiction_code: str
    effective_from: date
    school_public_funds_share: Decimal | None = None
    school_share_basis: str = "public_funds_budget"
    district_payroll_share_min: Decimal | None = None
    district_payroll_share_max: Decimal | None = None  # the guide's upper end, not a verdict (003 §5.2)
    pass_down_min: Decimal | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def source(self, rule: str) -> str:
        return self.sources.get(rule) or DEFAULT_SOURCES[rule]


# The seeds' policies, as data a jurisdiction publishes (tests and demo data use them).
SEED_POLICIES: dict[str, dict[str, Any]] = {
    # 001 §6.7: 按照学校年度公用经费预算总额的5%安排教师培训经费 (财教[2006]5号), Jiangxi.
    "jiangxi": {"school_public_funds_share": Decimal("0.05"),
                "sources": {"school_public_funds_share": "001 §6.7"}},
    # 003 §5.2: 按教职工工资总额的1.5%—2.5%足额安排; schools 5% of the public-funds budget. Jiyuan.
    "jiyuan": {"school_public_funds_share": Decimal("0.05"), "district_payroll_share_min": Decimal("0.015"),
               "district_payroll_share_max": Decimal("0.025"),
               "sources": {"school_public_funds_share": "003 §5.2", "district_payroll_share": "003 §5.2"}},
    # 002 §4.2.2: ≥ 3% of payroll, ≥ 70% passed down to schools, schools ≥ 10% of daily public funds.
    "hangzhou_district": {"school_public_funds_share": Decimal("0.10"), "school_share_basis": "daily_public_funds",
                          "district_payroll_share_min": Decimal("0.03"), "pass_down_min": Decimal("0.70"),
                          "sources": {r: "002 §4.2.2" for r in RULES}},
}


def to_data(p: FundingPolicy) -> dict[str, Any]:
    data: dict[str, Any] = {"jurisdiction_code": p.jurisdiction_code, "effective_from": p.effective_from.isoformat(),
                            "school_share_basis": p.school_share_basis}
    for name in SHARE_FIELDS:
        value = getattr(p, name)
        data[name] = None if value is None else str(value)
    data["sources"] = {rule: p.source(rule) for rule in RULES}
    return data


def from_data(d: dict[str, Any]) -> FundingPolicy:
    shares = {n: (None if d.get(n) is None else Decimal(d[n])) for n in SHARE_FIELDS}
    return FundingPolicy(d["jurisdiction_code"], date.fromisoformat(d["effective_from"]),
                         school_share_basis=d.get("school_share_basis", "public_funds_budget"),
                         sources=dict(d.get("sources") or {}), **shares)


Versions = dict[date, FundingPolicy]


def evolve(state: Versions, type_: str, data: dict[str, Any]) -> Versions:
    if type_ == "FundingPolicyPublished":
        p = from_data(data)
        return {**state, p.effective_from: p}
    return state


def _check(p: FundingPolicy) -> None:
    for name in SHARE_FIELDS:
        value = getattr(p, name)
        if value is not None and not (0 < value <= 1):
            raise Refused("invalid_share", f"{name} must be above 0 and at most 1", 422)
    lo, hi = p.district_payroll_share_min, p.district_payroll_share_max
    if hi is not None and lo is None:
        raise Refused("invalid_band", "district_payroll_share_max needs district_payroll_share_min", 422)
    if lo is not None and hi is not None and hi < lo:
        raise Refused("invalid_band", "district_payroll_share_max is below district_payroll_share_min", 422)
    if all(getattr(p, n) is None for n in SHARE_FIELDS):
        raise Refused("empty_policy", "a policy sets at least one share", 422)
    if p.school_share_basis not in BASES:
        raise Refused("invalid_basis", f"school_share_basis must be one of {', '.join(BASES)}", 422)
    unknown = set(p.sources) - set(RULES)
    if unknown:
        raise Refused("invalid_sources", f"sources name unknown rules: {', '.join(sorted(unknown))}", 422)


def decide_publish(state: Versions, wanted: FundingPolicy,
                   jurisdiction_kind: str) -> list[tuple[str, dict[str, Any]]]:
    """A jurisdiction above school level publishes its policy as data, versioned by effective date
    (the seeds' jurisdictions: Jiangxi 001 §6.7, Jiyuan 003 §5.2, a Hangzhou district 002 §4.2.2);
    a second publication for the same date corrects that version; an identical one is nothing."""
    if jurisdiction_kind == "school":
        raise Refused("invalid_jurisdiction", "a school follows its jurisdiction's policy; it publishes none", 422)
    _check(wanted)
    current = state.get(wanted.effective_from)
    if current is not None and to_data(current) == to_data(wanted):
        return []  # an identical PUT changes nothing
    return [("FundingPolicyPublished", to_data(wanted))]


def in_force(versions: list[FundingPolicy], as_of: date) -> FundingPolicy | None:
    """The version of one jurisdiction in force on `as_of`: the latest that took effect by then."""
    started = [p for p in versions if p.effective_from <= as_of]
    return max(started, key=lambda p: p.effective_from) if started else None


def applicable(chain: list[str], versions: dict[str, list[FundingPolicy]], as_of: date) -> FundingPolicy | None:
    """`chain`: the org and its ancestors, nearest first. The nearest jurisdiction's policy wins."""
    for code in chain:
        found = in_force(versions.get(code, []), as_of)
        if found is not None:
            return found
    return None
