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
