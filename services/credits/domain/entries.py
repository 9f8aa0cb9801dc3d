"""Ledger entries as aggregates: an award (`award-<entry_id>`) or an approved claim
(`claim-<claim_id>`, see claims.py), and their revocation.

An award is the credits side of EnrollmentCompleted: the project's hours, the credit category its
hour category maps to under the policy in force on the completion day (policy.award_category;
unmapped: the hour category itself), the completion day (earned and recorded that day), the
school year under that policy, and the policy version used. EnrollmentFailed awards nothing
(001 §5.3: 考核不合格的教师,不能获得学分).

HoursAwarded stays at schema version 1: the fields added with the category map (`hour_category`,
`policy_version`) are optional to every reader, so awards recorded before them rebuild as they are
(their `category` is the project's hour category, as it was then).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from shared.refusal import Refused

from .policy import Policy, award_category, num, school_year_under, to_hours

UNSPECIFIED = "unspecified"


@dataclass(frozen=True)
class EntryState:
    entry_id: str
    teacher_id: str
    org_code: str | None
    hours: Decimal
    category: str
    school_year: int
    recorded_on: date
    revoked: bool = False


NO_ENTRY: EntryState | None = None  # before an award stream's first event


def decide_award(completed: dict[str, Any], *, source_event_id: str, entry_id: str, school_code: str | None,
                 policy: Policy | None) -> list[tuple[str, dict[str, Any]]]:
    """HoursAwarded for an EnrollmentCompleted (DOMAIN.md: "Completion awards the project's credit
    hours"), in the school year of the policy in force on the completion day; nothing for no hours."""
    hours = to_hours(completed["hours"])
    if hours <= 0:
        return []  # nothing earned, nothing to record
    earned_on = date.fromisoformat(completed["completed_on"])
    year = school_year_under(policy, earned_on)
    hour_category = completed.get("hour_category") or UNSPECIFIED
    return [("HoursAwarded", {
        "entry_id": entry_id, "teacher_id": completed["teacher_id"], "hours": num(hours),
        "category": award_category(policy, hour_category), "hour_category": hour_category,
        "earned_on": earned_on.isoformat(),
        "recorded_on": earned_on.isoformat(), "school_year": year,
        "org_code": school_code or completed.get("region_code"),
        "jurisdiction_code": policy.jurisdiction_code if policy else None,
        "policy_effective_from": policy.effective_from.isoformat() if policy else None,
        # The jurisdiction's policy stream version that published the text used (0: not known).
        "policy_version": policy.version if policy else None,
        "source": {"type": "enrollment", "event_id": source_event_id, "enrollment_id": completed.get("enrollment_id"),
                   "project_id": completed.get("project_id"), "level": completed.get("level"),
                   "project_year": completed.get("year"), "host_id": completed.get("host_id")},
    })]


def entry_from_data(data: dict[str, Any]) -> EntryState:
    """The entry an HoursAwarded or ClaimApproved describes."""
    return EntryState(data["entry_id"], data["teacher_id"], data.get("org_code"), to_hours(data["hours"]),
                      data["category"], int(data["school_year"]), date.fromisoformat(data["recorded_on"]))


def evolve_award(state: EntryState | None, event_type: str, data: dict[str, Any]) -> EntryState | None:
    if event_type == "HoursAwarded":
        return entry_from_data(data)
    if event_type == "EntryRevoked" and state is not None:
        return replace(state, revoked=True)
    return state


def decide_revoke(entry: EntryState | None, *, reason: str, today: date) -> list[tuple[str, dict[str, Any]]]:
    """EntryRevoked: a wrong record is never deleted but revoked by a later entry, so the history
    stays auditable (DOMAIN.md; 001 §5.4)."""
    if entry is None:
        raise Refused("entry_not_found", "no such ledger entry", 404)
    if entry.revoked:
        raise Refused("entry_already_revoked", f"entry {entry.entry_id} is already revoked")
    reason = reason.strip()
    if not reason:
        raise Refused("reason_required", "a revocation needs a reason", 422)
    # Never dated before the entry itself, whatever the clocks of the two services say.
    on = max(today, entry.recorded_on)
    return [("EntryRevoked", {
        "entry_id": entry.entry_id, "teacher_id": entry.teacher_id, "org_code": entry.org_code,
        "hours": num(entry.hours), "category": entry.category, "school_year": entry.school_year,
        "reason": reason, "revoked_on": on.isoformat()})]
