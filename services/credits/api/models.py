"""The credits service's response bodies as typed models (issue 16): what /openapi.json publishes
for each 2xx, so a generated client gets types, not dicts. `extra="forbid"`: a field a route adds
without adding it here fails the response (500 in the tests, a schema violation in the fuzz)
instead of drifting from the published contract. Hours and credits are JSON numbers, integral
ones as integers (domain/policy.py `num`), hence `int | float`."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.paging import Page
from shared.yearnames import SchoolYearNamed

Number = int | float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Claim(_Strict):
    """A claim of hours earned outside the system (001 §5.4 审核)."""

    claim_id: uuid.UUID
    teacher_id: uuid.UUID
    org_code: str | None
    hours: Number
    category: str
    source: str
    earned_on: date
    evidence: str | None
    school_year: int = Field(description="学年 the hours count in, 2023 = 2023学年")
    submitted_on: date
    status: Literal["pending", "approved", "rejected"]
    decided_on: date | None
    reason: str | None
    entry_id: uuid.UUID | None = Field(description="the ledger entry an approval made (= claim_id)")
    revoked: bool
    version: int = Field(description="the claim stream's version (its ETag)")


class ClaimPage(Page[Claim]):
    model_config = ConfigDict(extra="forbid")


class Revoked(_Strict):
    entry_id: uuid.UUID
    teacher_id: uuid.UUID
    hours: Number
    category: str
    school_year: int
    status: Literal["revoked"]
    revoked_on: date
    reason: str
    version: int


class Entry(_Strict):
    """A ledger entry: an award (a completion's hours) or an approved claim; never deleted."""

    entry_id: uuid.UUID
    teacher_id: uuid.UUID
    kind: Literal["award", "claim"]
    stream_id: str
    org_code: str | None = Field(description="the teacher's school when it was recorded")
    hours: Number
    category: str
    earned_on: date
    school_year: int = Field(description="学年 the hours count in")
    recorded_on: date
    revoked_on: date | None
    revoke_reason: str | None
    status: Literal["active", "revoked"]
    version: int


class PolicyCategory(_Strict):
    code: str
    name: str
    min_hours: Number | None


class PolicyVersionRef(_Strict):
    effective_from: date
    published_on: date | None


class Policy(_Strict):
    """A credit policy version (学分政策)."""

    jurisdiction_code: str
    effective_from: date
    hours_per_credit: Number | None
    annual_hours: Number | None
    cycle_years: int
    cycle_start_year: int
    cycle_hours: Number | None
    induction_hours: Number | None
    induction_years: int
    categories: list[PolicyCategory]
    category_map: dict[str, str]
    school_year_start: str = Field(description='MM-DD, "09-01" by default')
    credit_decimals: int
    published_on: date | None


class PolicyInForce(Policy):
    requested_code: str
    version: int = Field(description="the jurisdiction's policy stream version (its ETag)")
    as_of: date | None = None
    versions: list[PolicyVersionRef] | None = None


class PolicyUsed(BaseModel):
    """The policy version a verdict was judged by."""

    jurisdiction_code: str
    version: int = Field(description="the jurisdiction's policy stream version that published it")
    effective_from: date


class CategoryProgress(_Strict):
    category: str
    hours: Number
    credits: Number | None = Field(description="null under no policy (no hours per credit)")
    min_hours: Number | None
    met: bool | None


class PolicyRef(_Strict):
    jurisdiction_code: str
    effective_from: date


class Period(_Strict):
    start_year: int
    end_year: int
    label: str
    hours: Number
    credits: Number | None
    target: Number | None
    target_basis: str | None
    met: bool | None
    progress: Number | None
    categories: list[CategoryProgress]
    policy: PolicyRef | None


class SchoolYearPeriod(Period):
    school_year: int


class TranscriptLine(_Strict):
    kind: Literal["entry", "revocation"]
    entry_id: uuid.UUID
    on: date
    hours: Number
    category: str
    school_year: int = Field(description="学年 the line counts in")
    status: Literal["active", "revoked"]
    source_type: str | None = None
    earned_on: date | None = None
    source: dict[str, Any] | None = Field(None, description="what earned it; a completion's `year` is its "
                                                              "project's year (项目年度), named by year_kind")
    reason: str | None = None


class Induction(_Strict):
    hired_on: date
    window_ends_on: date
    target: Number | None
    hours: Number
    progress: Number | None
    met: bool | None


class AnnualVerdict(_Strict):
    school_year: int
    target: Number | None
    met: bool | None


class CycleVerdict(_Strict):
    start_year: int
    end_year: int
    target: Number | None
    met: bool | None


class InductionVerdict(_Strict):
    target: Number | None
    met: bool | None


class TranscriptCompliance(_Strict):
    annual: AnnualVerdict
    cycle: CycleVerdict | None
    induction: InductionVerdict | None


class Transcript(_Strict):
    """A teacher's transcript (学时档案) as it stood on `as_of`."""

    teacher_id: uuid.UUID
    as_of: date
    school_code: str | None
    policy: Policy | None
    current_school_year: int
    entries: list[TranscriptLine]
    years: list[SchoolYearPeriod]
    cycle: Period | None
    induction: Induction | None
    compliance: TranscriptCompliance


class Figures(_Strict):
    teachers: int
    meeting: int
    share: Number | None
    without_policy: int
    with_hours: int
    hours: Number


class ChildFigures(Figures):
    code: str
    kind: str


class OrgCompliance(Figures, SchoolYearNamed):
    org_code: str
    kind: str
    year: int = Field(description="学年 school year, 2023 = 2023学年")
    label: str
    as_of: date
    children: list[ChildFigures]


class Shortfall(_Strict):
    target: str
    category: str | None
    category_name: str | None
    required_hours: Number
    hours: Number
    short_hours: Number


class ShortTeacher(_Strict):
    teacher_id: uuid.UUID
    school_code: str
    shortfalls: list[Shortfall]
    policy: PolicyUsed | None


class ShortOfHours(Page[ShortTeacher], SchoolYearNamed):
    model_config = ConfigDict(extra="forbid")
    org_code: str
    year: int = Field(description="学年 school year")
    label: str
    judged_on: date


class Reminders(_Strict):
    org_code: str
    year: int = Field(description="学年 school year")
    judged_on: date
    short: int
    published: int
    already_reminded: int
    teacher_ids: list[uuid.UUID]


class Certificate(_Strict):
    """A certificate (继续教育电子证书) as a verifier sees it: no name, no school, a masked holder."""

    certificate_no: str
    holder: str
    kind: Literal["year", "cycle"]
    label: str
    start_year: int
    end_year: int
    hours: Number
    credits: Number
    target: Number | None
    jurisdiction_code: str
    issued_on: date
    valid: bool
    status: Literal["valid", "invalid"]
    invalid_reasons: list[str]
    credential: dict[str, Any] = Field(description="the signed W3C verifiable credential")


class MyCertificates(Page[Certificate]):
    model_config = ConfigDict(extra="forbid")
    teacher_id: uuid.UUID


class Jwks(BaseModel):
    """The certificate signing keys as a JSON Web Key Set (RFC 7517), for offline verification."""

    keys: list[dict[str, Any]]


class Rebuilt(_Strict):
    rebuilt: dict[str, int] = Field(description="events applied per read model")
