"""Which year a response's `year` is (project, budget or school year; shared/calendar.py says why),
as read-only fields every typed response adds by inheriting one of these mixins."""

from __future__ import annotations

from pydantic import BaseModel, computed_field

from .calendar import year_label


class _YearNamed(BaseModel):
    _kind: str = ""

    @computed_field(  # type: ignore[prop-decorator]
        description="which year `year` is: project_year 项目年度, budget_year 预算年度 or school_year 学年 "
                    "(from 1 September)")
    @property
    def year_kind(self) -> str:
        return self._kind

    @computed_field(description="the year's Chinese name, e.g. 2023年度项目, 2023预算年度, 2023学年")  # type: ignore[prop-decorator]
    @property
    def year_label(self) -> str | None:
        year = getattr(self, "year", None)
        return None if year is None else year_label(self._kind, int(year))


class ProjectYearNamed(_YearNamed):
    """`year` is the project's year (项目年度): the calendar year it is planned and run in."""

    _kind: str = "project_year"


class BudgetYearNamed(_YearNamed):
    """`year` is a budget year (预算年度): the fiscal year, 1 January to 31 December."""

    _kind: str = "budget_year"


class SchoolYearNamed(_YearNamed):
    """`year` is a school year (学年), from 1 September: 2023 = 2023-09-01..2024-08-31."""

    _kind: str = "school_year"
