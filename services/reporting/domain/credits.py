"""Credit compliance (DOMAIN.md "Credit hours and credits") from the credits service's events,
judged by the credits service's rules so both show the same counts:

- a teacher counts in a school year when registered with a school in the subtree and hired no
  later than that year's last day (a school year starts on the policy's `school_year_start`,
  default 1 September: "2023学年" is 2023-09-01..2024-08-31);
- the annual target is the policy's annual hours (Jiangxi 60, 001 §2.3), else the pro-rata share
  of the cycle (Jiyuan 360 ÷ 5 = 72, 003 §4.3) rounded half-up to tenths; category minimums must
  be met too. The policy is the school's nearest jurisdiction's version in force on the earlier of
  `as_of` and the year's last day; a teacher under no policy is `without_policy`, never meeting.
Hours are integer tenths, never a float; the share is meeting ÷ teachers, 4 places rounded down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

TENTH = Decimal("0.1")
DEFAULT_SCHOOL_YEAR_START = (9, 1)


def tenths(value: Any) -> int:
    """Hours (a JSON number or string) as integer tenths, rounded half-up like the credits ledger."""
    return int(Decimal(str(value)).quantize(TENTH, rounding=ROUND_HALF_UP) / TENTH)


def hours(n_tenths: int) -> str:
    return str((Decimal(n_tenths) * TENTH).quantize(TENTH))


def parse_start(value: str | None) -> tuple[int, int]:
    if not value:
        return DEFAULT_SCHOOL_YEAR_START
    month, day = (int(x) for x in value.split("-"))
    return month, day


@dataclass(frozen=True)
class CreditPolicy:
    jurisdiction_code: str
    effective_from: date
    cycle_years: int
    annual_hours: Decimal | None = None
    cycle_hours: Decimal | None = None
    school_year_start: tuple[int, int] = DEFAULT_SCHOOL_YEAR_START
    category_minimums: dict[str, int] = field(default_factory=dict)  # category → tenths

    def annual_target(self) -> int | None:
        """The annual yardstick in tenths: annual hours, else cycle hours ÷ cycle years."""
        if self.annual_hours is not None:
            return tenths(self.annual_hours)
        if self.cycle_hours is not None and self.cycle_years > 0:
            return tenths((self.cycle_hours / self.cycle_years).quantize(TENTH, rounding=ROUND_HALF_UP))
        return None


def last_day(school_year: int, start: tuple[int, int]) -> date:
    return date(school_year + 1, *start) - timedelta(days=1)


def share(meeting: int, teachers: int) -> str | None:
    """meeting ÷ teachers with 4 places rounded DOWN, as the credits service shows it (never
    more compliance than there is); null when there are no teachers."""
    if teachers <= 0:
        return None
    return str((Decimal(meeting * 10_000 // teachers) / 10_000).quantize(Decimal("0.0001")))
