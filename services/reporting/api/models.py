"""Reporting's response bodies as typed models (issue 16), published in /openapi.json for each
2xx. Strict (`extra="forbid"`): a field a report adds without its model fails the response in the
tests instead of drifting from the contract. Rates are decimal strings with 4 places, null over a
zero denominator (domain/rates.py); counts are integers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.yearnames import ProjectYearNamed, SchoolYearNamed

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


class Rates(ProjectYearNamed):
    model_config = ConfigDict(extra="forbid")
    year: int | None = Field(description="项目年度 project year; null: every year")
    region_code: str | None
    level: str | None
    project_id: str | None
    group_by: Literal["project", "region", "host", "level", "year"]
    total: Figures
    items: list[RatesItem]
    next_cursor: str | None


class RegionFigures(Figures):
    region_code: str
    name: str | None
    kind: str | None


class Regions(ProjectYearNamed):
    model_config = ConfigDict(extra="forbid")
    year: int | None = Field(description="项目年度 project year; null: every year")
    parent: RegionFigures | None
    items: list[RegionFigures]
    next_cursor: str | None


class NoticeItem(RegionFigures):
    below: list[str] = Field(description="the rates below min_rate")


class Notices(ProjectYearNamed):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(description="项目年度 project year")
    min_rate: str
    rates: list[str]
    title: str
    items: list[NoticeItem]
    next_cursor: str | None


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


class CreditsReport(SchoolYearNamed):
    model_config = ConfigDict(extra="forbid")
    year: int = Field(description="学年 school year, 2023 = 2023学年")
    region_code: str | None
    as_of: date
    total: CreditFigures
    items: list[CreditRegion]
    policies: list[dict[str, Any]] = Field(description="the credit policy versions credits judged by, each once")
    next_cursor: str | None


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


class HostRanking(ProjectYearNamed):
    """承办单位综合排名 (004 §4.2)."""

    model_config = ConfigDict(extra="forbid")
    year: int = Field(description="项目年度 project year")
    as_of: date
    organizer_code: str | None
    formula: str
    weights: dict[str, str]
    items: list[HostRow]
    next_cursor: str | None


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
