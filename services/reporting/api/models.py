"""Reporting's response bodies as typed models (issue 16), published in /openapi.json for each
2xx. Strict (`extra="forbid"`): a field a report adds without its model fails the response in the
tests instead of drifting from the contract. Rates are decimal strings with 4 places, null over a
zero denominator (domain/rates.py); counts are integers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.paging import Page
from shared.yearnames import BudgetYearNamed, ProjectYearNamed, SchoolYearNamed

Rate = str | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Figures(_Strict):
    quota: int
    nominated: int
    checked_in: int
    completed: int
    failed: int
    no_show: int
    withdrawn: int
    replaced: int
    evaluations: int
    satisfied: int
    selection_rate: Rate = Field(description="选送率 nominated ÷ quota")
    check_in_rate: Rate = Field(description="报到率 checked in ÷ nominated")
    completion_rate: Rate = Field(description="结业率 completed ÷ checked in")
    satisfaction_rate: Rate = Field(description="满意率 satisfied ÷ evaluations")


class RatesItem(Figures):
    key: str | None
    label: str | None


class Rates(Page[RatesItem], ProjectYearNamed):
    model_config = ConfigDict(extra="forbid")
    year: int | None = Field(description="项目年度 project year; null: every year")
    region_code: str | None
    level: str | None
    project_id: str | None
    group_by: Literal["project", "region", "host", "level", "year"]
    total: Figures


class RegionFigures(Figures):
    region_code: str
    name: str | None
    kind: str | None


class Regions(Page[RegionFigures], ProjectYearNamed):
    model_config = ConfigDict(extra="forbid")
    year: int | None = Field(description="项目年度 project year; null: every year")
    parent: RegionFigures | None


class NoticeItem(RegionFigures):
    below: list[str] = Field(description="the rates below min_rate")


class Notices(Page[NoticeItem], ProjectYearNamed):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(description="项目年度 project year")
    min_rate: str
    rates: list[str]
    title: str


class TiltFormula(_Strict):
    weights: dict[str, str]
    strength: str
    max_shift: str
    source: str


class QuotaSuggestion(RegionFigures):
    score: Rate
    factor: Rate
    suggested_places: int


class QuotaSuggestions(ProjectYearNamed):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(description="项目年度 the project year whose rates tilt the suggestion")
    for_year: int = Field(description="项目年度 the suggestion is for")
    parent_code: str | None
    level: str | None
    places: int
    formula: TiltFormula
    items: list[QuotaSuggestion]


class CreditFigures(_Strict):
    teachers: int
    meeting: int
    without_policy: int
    with_hours: int
    hours: str = Field(description="the counted teachers' active hours, one decimal")
    share: str | None = Field(description="meeting ÷ teachers, 4 places rounded down; null for no teachers")


class CreditRegion(CreditFigures):
    region_code: str
    name: str | None
    kind: str | None


class CreditsReport(Page[CreditRegion], SchoolYearNamed):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(description="学年 school year, 2023 = 2023学年")
    region_code: str | None
    as_of: date
    total: CreditFigures
    policies: list[dict[str, Any]] = Field(description="the credit policy versions credits judged by, each once")


class ProjectionLag(_Strict):
    projection: str
    source: str
    lag: int | None = Field(description="messages not yet applied; null until the consumer has asked NATS")
    last_position: int
    applied: int
    updated_at: datetime | None


class Lag(_Strict):
    projections: list[ProjectionLag]


class Rebuilt(_Strict):
    rebuilt: dict[str, int] = Field(description="events applied per read model")
    source: Literal["feed", "stream"]


class HostRow(_Strict):
    rank: int
    host_id: str
    name: str | None
    projects: int
    checked_in: int
    completed: int
    completion_rate: Rate
    evaluations: int
    satisfied: int
    satisfaction_rate: Rate
    satisfaction_target_met: bool | None
    bulletin_projects: int = Field(description="projects whose bulletin duty could be judged")
    bulletin_share: Rate
    close_out_projects: int = Field(description="projects whose close-out duty could be judged")
    close_out_share: Rate
    score: Rate


class HostRanking(Page[HostRow], ProjectYearNamed):
    """承办单位综合排名 (004 §4.2)."""

    model_config = ConfigDict(extra="forbid")
    year: int = Field(description="项目年度 project year")
    as_of: date
    organizer_code: str | None
    formula: str
    weights: dict[str, str]


class BulletinIssue(_Strict):
    issue_no: int
    title: str
    published_on: date = Field(description="the date the host states")
    received_on: date | None = Field(description="the day the system received it: what deadlines judge")
    on_time: bool


class BulletinDuty(_Strict):
    required_min: int
    required_max: int | None
    due_by: date
    delivered: int
    on_time: int
    status: str
    issues: list[BulletinIssue]


class FailedLearner(_Strict):
    enrollment_id: str
    teacher_id: str
    region_code: str
    reason: str | None
    failed_on: date | None


class ProjectObligations(ProjectYearNamed):
    """A project's obligations: bulletins, close-out materials, failed learners (004 §3.3)."""

    model_config = ConfigDict(extra="forbid")
    project_id: str
    code: str
    name: str
    level: str
    category: str
    year: int = Field(description="项目年度 project year")
    host_id: str | None
    host_name: str | None
    organizer_code: str
    status: str
    starts_on: date
    ends_on: date
    duration_days: int
    as_of: date
    region_code: str | None
    bulletins: BulletinDuty
    close_out: dict[str, Any] = Field(description="due_by, passed, status, delivered, course_videos, cases, items")
    failed_learners: list[FailedLearner]
    figures: Figures
    policy: dict[str, Any] = Field(description="the reporting policy version the duties were judged under")


class FundingRule(_Strict):
    rule: str | None
    ratio: str | None
    threshold_min: str | None
    threshold_max: str | None
    compliant: bool | None
    spending_share: str | None
    guide_max: str | None
    above_guide: bool | None
    notice: str | None


class FundingOrg(_Strict):
    """One org as funding last assessed it (FundingAssessed), or undeclared (未申报) if never."""

    org_code: str
    name: str | None
    kind: str | None
    status: Literal["undeclared", "compliant", "not_compliant", "not_judged"]
    status_label: str
    declared: bool | None
    public_funds_budget_fen: int | None
    payroll_fen: int | None
    training_budget_fen: int | None
    allocated_fen: int | None
    spent_fen: int | None
    set_aside_share: str | None
    funding_ratio: str | None
    payroll_share: str | None
    pass_down_share: str | None
    jurisdiction_code: str | None
    policy_effective_from: str | None
    policy_version: int | None
    rules: list[FundingRule]
    compliant: bool | None


class FundingReport(Page[FundingOrg], BudgetYearNamed):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(description="预算年度 budget year")
    region_code: str | None
    summary: dict[str, dict[str, Any]] = Field(description="per kind (school, county): counts per status and the "
                                                           "compliance rate (compliant ÷ judged)")
