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
