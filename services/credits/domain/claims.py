"""Claims for hours earned outside the system (DOMAIN.md: 学历进修, workshops, school-based
training), reviewed by the credit office (001 §5.4 备案、审核): submitted → approved | rejected.

An approved claim *is* a ledger entry (entry_id = claim_id); it can later be revoked like an award.
Claims refer to evidence (a file number, an archive reference, a URL) — never the file itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any, overload

from shared.refusal import Refused

from .entries import EntryState
from .policy import MAX_HOURS, Policy, num, school_year_under

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
# 003 §4.3 counts 工作坊研修 (workshops); DOMAIN.md names degree study and school-based training.
SOURCES = ("degree_study", "workshop", "school_based", "other")
# Evidence travels on the bus inside HoursClaimed, and events carry no personal data (DESIGN.md):
# refuse what looks like a national ID number (GB 11643: 17 digits + check) or a mobile number.
PERSONAL = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx]|1[3-9][0-9]{9})(?![0-9])")


@dataclass(frozen=True)
class Claim:
    claim_id: str
    teacher_id: str
    org_code: str | None
    hours: Decimal
    category: str
    source: str
    earned_on: date
    evidence: str
    school_year: int
    submitted_on: date
    status: str = PENDING
    decided_on: date | None = None
    reason: str | None = None
    revoked: bool = False

    def as_entry(self) -> EntryState | None:
        if self.status != APPROVED:
            return None
        return EntryState(self.claim_id, self.teacher_id, self.org_code, self.hours, self.category,
                          self.school_year, self.decided_on or self.submitted_on, self.revoked)


NO_CLAIM: Claim | None = None  # before a claim stream's first event


def claim_from_data(data: dict[str, Any]) -> Claim:
    """The pending claim an HoursClaimed opens."""
    return Claim(data["claim_id"], data["teacher_id"], data.get("org_code"), Decimal(str(data["hours"])),
                 data["category"], data["source"], date.fromisoformat(data["earned_on"]), data["evidence"],
                 int(data["school_year"]), date.fromisoformat(data["submitted_on"]))


@overload
def evolve_claim(state: Claim, event_type: str, data: dict[str, Any]) -> Claim: ...
@overload
def evolve_claim(state: Claim | None, event_type: str, data: dict[str, Any]) -> Claim | None: ...


def evolve_claim(state: Claim | None, event_type: str, data: dict[str, Any]) -> Claim | None:
    if event_type == "HoursClaimed":
        return claim_from_data(data)
    if state is None:
        return None
    if event_type == "ClaimApproved":
        return replace(state, status=APPROVED, decided_on=date.fromisoformat(data["approved_on"]),
                       reason=data.get("reason"))
    if event_type == "ClaimRejected":
        return replace(state, status=REJECTED, decided_on=date.fromisoformat(data["rejected_on"]),
                       reason=data["reason"])
    if event_type == "EntryRevoked":
        return replace(state, revoked=True)
    return state


def decide_claim(state: Claim | None, *, claim_id: str, teacher_id: str, org_code: str | None, hours: Decimal,
                 category: str, source: str, earned_on: date, evidence: str, today: date,
                 policy: Policy | None) -> list[tuple[str, dict[str, Any]]]:
    """HoursClaimed: hours from outside the system, on file for review (DOMAIN.md; 001 §5.4 备案)."""
    if state is not None:
        raise Refused("claim_exists", f"claim {claim_id} already exists")
    if not Decimal(0) < hours <= MAX_HOURS:
        raise Refused("hours_out_of_range", f"claimed hours must be in (0, {MAX_HOURS}]", 422)
    if source not in SOURCES:
        raise Refused("invalid_source", f"source must be one of {', '.join(SOURCES)}", 422)
    if earned_on > today:
        raise Refused("earned_in_future", "hours cannot be claimed before they are earned", 422)
    if PERSONAL.search(evidence):
        raise Refused("personal_data_in_evidence", "evidence is a reference (file or archive number, URL); "
                                                   "it must not carry an ID or phone number", 422)
    # Judged under the policy in force on the day the hours were earned.
    if policy is not None and policy.categories and category not in policy.category_codes():
        raise Refused("unknown_category", f"category {category!r} is not one of the policy's "
                                          f"{sorted(policy.category_codes())}", 422)
    year = school_year_under(policy, earned_on)
    return [("HoursClaimed", {
        "claim_id": claim_id, "teacher_id": teacher_id, "org_code": org_code, "hours": num(hours),
        "category": category, "source": source, "earned_on": earned_on.isoformat(), "evidence": evidence,
        "school_year": year, "submitted_on": today.isoformat(),
        "jurisdiction_code": policy.jurisdiction_code if policy else None})]


def _pending(state: Claim | None) -> Claim:
    if state is None:
        raise Refused("claim_not_found", "no such claim", 404)
    if state.status != PENDING:
        raise Refused("claim_not_pending", f"claim is already {state.status}")
    return state


def decide_approve(state: Claim | None, *, today: date, reason: str | None = None
                   ) -> list[tuple[str, dict[str, Any]]]:
    """ClaimApproved by the credit office (001 §5.4 审核): the claim becomes a ledger entry."""
    c = _pending(state)
    on = max(today, c.submitted_on)
    # Self-contained: the entry's facts travel with the approval, so readers need no claim state.
    return [("ClaimApproved", {
        "claim_id": c.claim_id, "entry_id": c.claim_id, "teacher_id": c.teacher_id, "org_code": c.org_code,
        "hours": num(c.hours), "category": c.category, "earned_on": c.earned_on.isoformat(),
        "school_year": c.school_year, "recorded_on": on.isoformat(), "approved_on": on.isoformat(),
        "source": {"type": "claim", "claim_id": c.claim_id, "source": c.source, "evidence": c.evidence},
        "reason": reason})]


def decide_reject(state: Claim | None, *, reason: str, today: date) -> list[tuple[str, dict[str, Any]]]:
    """ClaimRejected, with the reason the credit office gives (001 §5.4 审核)."""
    c = _pending(state)
    if not reason.strip():
        raise Refused("reason_required", "a rejection needs a reason", 422)
    return [("ClaimRejected", {"claim_id": c.claim_id, "teacher_id": c.teacher_id, "reason": reason.strip(),
                               "rejected_on": max(today, c.submitted_on).isoformat()})]
