"""Publishing policy versions (the `policy-<jurisdiction>` stream) and looking them up.

A jurisdiction's stream holds one PolicyPublished per version; re-publishing an existing
`effective_from` corrects that version (the later publication wins from its `published_on`).
`PolicyBook.known_at(as_of)` forgets what was published after `as_of`, so a transcript "as it stood"
is judged with the rules known then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from shared.refusal import Refused

from .policy import MAX_HOURS, Category, Policy, num, to_hours


def _hours(v: Any) -> Decimal | None:
    return None if v is None else to_hours(v)


def policy_to_data(p: Policy) -> dict[str, Any]:
    return {
        "jurisdiction_code": p.jurisdiction_code, "effective_from": p.effective_from.isoformat(),
        "hours_per_credit": num(p.hours_per_credit), "annual_hours": num(p.annual_hours),
        "cycle_years": p.cycle_years, "cycle_start_year": p.cycle_start_year, "cycle_hours": num(p.cycle_hours),
        "induction_hours": num(p.induction_hours), "induction_years": p.induction_years,
        "categories": [{"code": c.code, "name": c.name, "min_hours": num(c.min_hours)} for c in p.categories],
        "category_map": dict(p.category_map),
        "school_year_start": f"{p.school_year_start[0]:02d}-{p.school_year_start[1]:02d}",
        "credit_decimals": p.credit_decimals,
        "published_on": p.published_on.isoformat() if p.published_on else None,
    }


def policy_from_data(d: dict[str, Any]) -> Policy:
    month, day = (int(x) for x in d.get("school_year_start", "09-01").split("-"))
    return Policy(
        jurisdiction_code=d["jurisdiction_code"], effective_from=date.fromisoformat(d["effective_from"]),
        hours_per_credit=_hours(d.get("hours_per_credit")), annual_hours=_hours(d.get("annual_hours")),
        cycle_years=int(d["cycle_years"]), cycle_start_year=int(d["cycle_start_year"]),
        cycle_hours=_hours(d.get("cycle_hours")), induction_hours=_hours(d.get("induction_hours")),
        induction_years=int(d.get("induction_years", 1)),
        categories=tuple(Category(c["code"], c.get("name") or c["code"], _hours(c.get("min_hours")))
                         for c in d.get("categories") or ()),
        # Versions published before the map existed carry none: nothing is mapped under them.
        category_map=tuple(sorted((d.get("category_map") or {}).items())),
        school_year_start=(month, day), credit_decimals=int(d.get("credit_decimals", 1)),
        published_on=date.fromisoformat(d["published_on"]) if d.get("published_on") else None,
    )


def _is_jurisdiction(code: str) -> bool:
    # GB/T 2260: a province, city or county (6 digits); schools follow their county's policy.
    return len(code) == 6 and code.isascii() and code.isdigit() and code[:2] != "00"


def validate(p: Policy) -> None:
    """What a policy version must state to be published (DOMAIN.md: hours per credit, targets,
    cycle and categories are policy per jurisdiction)."""
    if not _is_jurisdiction(p.jurisdiction_code):
        raise Refused("invalid_jurisdiction", f"{p.jurisdiction_code} is not a GB/T 2260 province, city or county "
                                              "code", 422)
    for name in ("hours_per_credit", "annual_hours", "cycle_hours", "induction_hours"):
        v = getattr(p, name)
        if v is not None and not Decimal(0) < v <= MAX_HOURS:
            raise Refused("invalid_hours", f"{name} must be in (0, {MAX_HOURS}]", 422)
    if p.annual_hours is None and p.cycle_hours is None:
        raise Refused("policy_targets_missing", "a policy needs annual_hours or cycle_hours", 422)
    if not 1 <= p.cycle_years <= 10 or not 1990 <= p.cycle_start_year <= 2100:
        raise Refused("invalid_cycle", "cycle_years must be 1–10 and cycle_start_year 1990–2100", 422)
    if not 1 <= p.induction_years <= 5 or not 0 <= p.credit_decimals <= 2:
        raise Refused("invalid_policy", "induction_years must be 1–5 and credit_decimals 0–2", 422)
    month, day = p.school_year_start
    if not (1 <= month <= 12 and 1 <= day <= 28):
        raise Refused("invalid_school_year_start", "school_year_start is MM-DD with a day of 1–28", 422)
    codes = [c.code for c in p.categories]
    if len(set(codes)) != len(codes):
        raise Refused("duplicate_category", "category codes must be unique", 422)
    check_category_map(p)
    minimums = sum((c.min_hours or Decimal(0)) for c in p.categories)
    annual, _ = p.annual_target()
    if annual is not None and minimums > annual:
        raise Refused("category_minimums_exceed_target", f"category minimums {minimums} exceed the annual "
                                                         f"target {annual}", 422)


def check_category_map(p: Policy) -> None:
    """Every mapped project hour category lands in a credit category this version defines: an
    award mapped elsewhere would count toward no minimum the policy judges (DOMAIN.md)."""
    unknown = sorted({to for _, to in p.category_map} - p.category_codes())
    if unknown:
        raise Refused("category_map_unknown_category", f"category_map maps to {unknown}, which the policy's "
                                                       f"categories {sorted(p.category_codes())} do not define", 422)


def evolve_policy(state: tuple[Policy, ...], event_type: str, data: dict[str, Any]) -> tuple[Policy, ...]:
    if event_type != "PolicyPublished":
        return state
    p = policy_from_data(data)
    return tuple(v for v in state if v.effective_from != p.effective_from) + (p,)


def decide_publish(state: tuple[Policy, ...], wanted: Policy, today: date) -> list[tuple[str, dict[str, Any]]]:
    """PolicyPublished for a new version or a correction; nothing for an identical repeat
    (DOMAIN.md: policy per jurisdiction, versioned by date)."""
    validate(wanted)
    same = next((v for v in state if v.effective_from == wanted.effective_from), None)
    if same == wanted:  # published_on is not compared: a repeat changes nothing
        return []
    return [("PolicyPublished", policy_to_data(replace(wanted, published_on=today)))]


class PolicyBook:
    """Policy versions of several jurisdictions, in publication order (later corrects earlier)."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self._all = list(policies)
        by_code: dict[str, dict[date, Policy]] = {}
        for p in self._all:
            by_code.setdefault(p.jurisdiction_code, {})[p.effective_from] = p
        self._by_code = {c: sorted(v.values(), key=lambda p: p.effective_from) for c, v in by_code.items()}

    def known_at(self, as_of: date) -> PolicyBook:
        return PolicyBook(p for p in self._all if p.published_on is None or p.published_on <= as_of)

    def versions(self, code: str) -> list[Policy]:
        return list(self._by_code.get(code, ()))

    def in_force(self, code: str, on: date) -> Policy | None:
        found = None
        for p in self._by_code.get(code, ()):
            if p.effective_from <= on:
                found = p
        return found

    def for_chain(self, chain: Sequence[str], on: date) -> Policy | None:
        """The nearest jurisdiction (school → county → city → province) with a version in force."""
        for code in chain:
            p = self.in_force(code, on)
            if p is not None:
                return p
        return None
