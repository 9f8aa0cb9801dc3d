"""The data of every event credits records, one pydantic model per type and version (see
shared/eventschemas.py; the registry in events.py gates every recorded event on them).

Hours and credits are JSON numbers (domain/policy.num), dates ISO strings, ids strings.
HoursAwarded v2 renames the completion source's `year` to `project_year` (the project's year,
项目年度, shared/calendar.py YEAR_KINDS), which is not the entry's `school_year`; v1 stays modelled,
so its schema stays published, and events.py upcasts v1 data on load.
"""

from __future__ import annotations

from typing import Any

from shared.eventschemas import Day, EventData


class CategoryV1(EventData):
    code: str
    name: str
    min_hours: float | None = None


class PolicyPublishedV1(EventData):
    jurisdiction_code: str
    effective_from: Day
    hours_per_credit: float | None = None
    annual_hours: float | None = None
    cycle_years: int | None = None
    cycle_start_year: int | None = None
    cycle_hours: float | None = None
    induction_hours: float | None = None
    induction_years: int | None = None
    categories: list[CategoryV1] = []
    category_map: dict[str, str] = {}
    school_year_start: str | None = None
    credit_decimals: int | None = None
    published_on: Day | None = None


class CompletionSourceV1(EventData):
    """Where an award came from: enrollment's EnrollmentCompleted `event_id`. `year` is the
    project's year (项目年度), not the school year the hours count in."""

    type: str
    event_id: str
    enrollment_id: str | None = None
    project_id: str | None = None
    level: str | None = None
    year: int | None = None
    host_id: str | None = None


class CompletionSourceV2(EventData):
    """As v1, `year` named for what it is: `project_year`."""

    type: str
    event_id: str
    enrollment_id: str | None = None
    project_id: str | None = None
    level: str | None = None
    project_year: int | None = None
    host_id: str | None = None


class _Award(EventData):
    entry_id: str
    teacher_id: str
    hours: float
    category: str
    hour_category: str | None = None  # optional to every reader: awards before the category map lack it
    earned_on: Day
    recorded_on: Day
    school_year: int
    org_code: str | None = None
    jurisdiction_code: str | None = None
    policy_effective_from: Day | None = None
    policy_version: int | None = None


class HoursAwardedV1(_Award):
    source: CompletionSourceV1


class HoursAwardedV2(_Award):
    source: CompletionSourceV2


class HoursClaimedV1(EventData):
    claim_id: str
    teacher_id: str
    org_code: str | None = None
    hours: float
    category: str
    source: str
    earned_on: Day
    evidence: str
    school_year: int
    submitted_on: Day
    jurisdiction_code: str | None = None


class ClaimSourceV1(EventData):
    type: str
    claim_id: str
    source: str
    evidence: str


class ClaimApprovedV1(EventData):
    claim_id: str
    entry_id: str
    teacher_id: str
    org_code: str | None = None
    hours: float
    category: str
    earned_on: Day
    school_year: int
    recorded_on: Day
    approved_on: Day
    source: ClaimSourceV1
    reason: str | None = None


class ClaimRejectedV1(EventData):
    claim_id: str
    teacher_id: str
    reason: str
    rejected_on: Day


class EntryRevokedV1(EventData):
    entry_id: str
    teacher_id: str
    org_code: str | None = None
    hours: float
    category: str
    school_year: int
    reason: str
    revoked_on: Day


class CertificateIssuedV1(EventData):
    certificate_no: str
    teacher_id: str
    kind: str  # "year" | "cycle"
    start_year: int
    end_year: int
    label: str
    hours: float
    credits: float | None = None
    target: float
    jurisdiction_code: str
    policy_effective_from: Day | None = None
    entry_ids: list[str]
    issued_on: Day
    credential: dict[str, Any]  # the signed W3C verifiable credential (credits/credential.py)


class ShortfallV1(EventData):
    target: str  # annual | cycle | category
    category: str | None = None
    category_name: str | None = None
    required_hours: float
    hours: float
    short_hours: float


class PolicyUsedV1(EventData):
    jurisdiction_code: str
    version: int
    effective_from: Day


class TeacherShortOfHoursV1(EventData):
    teacher_id: str
    school_year: int
    org_code: str
    school_code: str | None = None
    shortfalls: list[ShortfallV1]
    policy: PolicyUsedV1 | None = None
    judged_on: Day


MODELS: dict[tuple[str, int], type[EventData]] = {
    ("PolicyPublished", 1): PolicyPublishedV1,
    ("HoursAwarded", 1): HoursAwardedV1,
    ("HoursAwarded", 2): HoursAwardedV2,
    ("HoursClaimed", 1): HoursClaimedV1,
    ("ClaimApproved", 1): ClaimApprovedV1,
    ("ClaimRejected", 1): ClaimRejectedV1,
    ("EntryRevoked", 1): EntryRevokedV1,
    ("CertificateIssued", 1): CertificateIssuedV1,
    ("TeacherShortOfHours", 1): TeacherShortOfHoursV1,
}
