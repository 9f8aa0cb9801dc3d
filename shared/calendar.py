"""The calendar the rules count in (pure; no framework).

Deadlines in the seeds are calendar dates in China ("12月20日前", "开班前10天"), so "today" is
the Asia/Shanghai calendar day, never the server's UTC date: at 07:00 UTC it is already
tomorrow in Beijing. A school year (学年) starts on a configurable day, 1 September by default
("2023学年" = 2023-09-01..2024-08-31); a province counting by calendar year sets it to 1 January.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_SCHOOL_YEAR_START = (9, 1)


def today_in_shanghai() -> date:
    return datetime.now(SHANGHAI).date()


def school_year_of(d: date, start: tuple[int, int] = DEFAULT_SCHOOL_YEAR_START) -> int:
    """The school year a day falls in, named by the calendar year it starts in."""
    return d.year if (d.month, d.day) >= start else d.year - 1


def school_year_bounds(year: int, start: tuple[int, int] = DEFAULT_SCHOOL_YEAR_START) -> tuple[date, date]:
    """(first day, last day) of a school year, both inclusive."""
    return date(year, *start), date(year + 1, *start) - timedelta(days=1)


def school_year_label(year: int, start: tuple[int, int] = DEFAULT_SCHOOL_YEAR_START) -> str:
    return f"{year}年" if start == (1, 1) else f"{year}学年"


# "year" means three different things in the seeds, so the API never says just "year" without
# saying which (DOMAIN.md; issue 20 point 8):
# - project_year (项目年度): the calendar year a project is planned and run in, as in "2023年国培计划"
#   (004); a cross-year project is named by its first year.
# - budget_year (预算年度): the year of a funding budget; China's fiscal year is the calendar year,
#   1 January to 31 December (预算法 第十八条).
# - school_year (学年): the year credit hours count in (001 §5.4 "分学年登记"), from 1 September by
#   default — so a 国培 project of 2024 completed in July 2024 credits the 2023学年.
YEAR_KINDS = {"project_year": "项目年度", "budget_year": "预算年度", "school_year": "学年"}


def year_label(kind: str, year: int, school_year_start: tuple[int, int] = DEFAULT_SCHOOL_YEAR_START) -> str:
    """The Chinese name of `year` read as `kind` (one of YEAR_KINDS): 2023年度项目, 2023预算年度, 2023学年."""
    if kind == "school_year":
        return school_year_label(year, school_year_start)
    if kind == "budget_year":
        return f"{year}预算年度"
    if kind == "project_year":
        return f"{year}年度项目"
    raise ValueError(f"unknown year kind {kind!r}")


def year_named(kind: str, year: int | None, school_year_start: tuple[int, int] = DEFAULT_SCHOOL_YEAR_START
               ) -> dict[str, str | None]:
    """`year_kind` and `year_label` for a response that carries `year` (label None when no year)."""
    return {"year_kind": kind, "year_label": None if year is None else year_label(kind, year, school_year_start)}
