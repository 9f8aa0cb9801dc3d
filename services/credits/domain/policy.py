"""Credit-hour policy per jurisdiction (学时学分政策), versioned by effective date.

Every number that differs between provinces is a field here, never a constant in a rule:
- Jiangxi (seed 001 §2.3): a 5-year cycle, 60 hours a year, 20 hours = 1 credit.
- Jiyuan (seed 003 §4.3): 360 hours per 5-year cycle (2021–2025), 120 hours of induction for new
  teachers; workshop study (工作坊研修) counts toward hours.
- Others split an annual target into categories (public / professional / elective), and map each
  project hour category enrollment sends (centralized, online, blended, school_based, workshop …)
  to one of them (`category_map`, DOMAIN.md "Project hour categories … map to each province's
  credit categories … by that province's policy").

Judgement rules (documented in the service README section of main.py):
- A school year (学年) starts on `school_year_start` (default 1 September: "2023学年" is
  2023-09-01..2024-08-31); a policy that counts calendar years sets it to (1, 1).
- Credits = hours / hours_per_credit, rounded DOWN to `credit_decimals` places: a teacher is never
  credited with hours not earned ("每20学时计算1个学分", 001 §2.3).
- Without an explicit annual target (Jiyuan states only a cycle total), the annual yardstick is the
  pro-rata share cycle_hours / cycle_years, rounded half-up to tenths of an hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from shared.calendar import DEFAULT_SCHOOL_YEAR_START, school_year_of
from shared.refusal import Refused

TENTH = Decimal("0.1")
MAX_HOURS = Decimal(2000)  # sanity bound on one entry or target; a whole cycle is 360 h (003 §4.3)


def to_hours(value: Any, *, strict: bool = False) -> Decimal:
    """Hours as Decimal tenths. `strict` refuses finer precision (API input); events round half-up."""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Refused("invalid_hours", f"{value!r} is not a number of hours", 422) from None
    if not d.is_finite():
        raise Refused("invalid_hours", "hours must be finite", 422)
    q = d.quantize(TENTH, rounding=ROUND_HALF_UP)
    if strict and q != d:
        raise Refused("hours_precision", "hours are recorded in tenths (one decimal place)", 422)
    return q


def tenths(h: Decimal) -> int:
    return int(h / TENTH)


def from_tenths(n: int) -> Decimal:
    return (Decimal(n) * TENTH).quantize(TENTH)


def num(v: Decimal | None) -> Any:
    """Hours, credits and ratios as JSON numbers (events and the API carry numbers; tenths are
    exact in a float's repr), rendered once at the edge, never accumulated."""
    if v is None:
        return None
    return int(v) if v == v.to_integral_value() else float(v)


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    min_hours: Decimal | None = None  # per school year, e.g. a public/professional/elective split


@dataclass(frozen=True)
class Policy:
    jurisdiction_code: str
    effective_from: date
    cycle_years: int
    cycle_start_year: int
    hours_per_credit: Decimal | None = None
    annual_hours: Decimal | None = None
    cycle_hours: Decimal | None = None
    induction_hours: Decimal | None = None
    induction_years: int = 1  # a "new teacher" (新入职教师, 003 §4.3) is one hired less than N years ago
    categories: tuple[Category, ...] = ()
    # Project hour category → one of `categories` (sorted pairs: hashable and order-free, so a
    # repeat PUT with the keys in another order is still the same policy).
    category_map: tuple[tuple[str, str], ...] = ()
    school_year_start: tuple[int, int] = DEFAULT_SCHOOL_YEAR_START  # 中国学年: 9月1日 (001 §5.4 "分学年")
    credit_decimals: int = 1
    published_on: date | None = field(default=None, compare=False)  # when it became known (as_of)
    # The policy stream's version that published this text (0 until recorded): verdicts name it.
    version: int = field(default=0, compare=False)

    # --- calendar -----------------------------------------------------------------------
    def cycle_of(self, school_year: int) -> tuple[int, int]:
        k = (school_year - self.cycle_start_year) // self.cycle_years  # floor: works before the start too
        start = self.cycle_start_year + k * self.cycle_years
        return start, start + self.cycle_years - 1

    # --- targets ------------------------------------------------------------------------
    def annual_target(self) -> tuple[Decimal | None, str | None]:
        """(hours, basis): the annual hours (Jiangxi 60, 001 §2.3), else the pro-rata share of the
        cycle (Jiyuan 360 ÷ 5, 003 §4.3) rounded half-up to tenths."""
        if self.annual_hours is not None:
            return self.annual_hours, "annual"
        if self.cycle_hours is not None:
            share = (self.cycle_hours / self.cycle_years).quantize(TENTH, rounding=ROUND_HALF_UP)
            return share, "pro_rata_cycle"
        return None, None

    def cycle_target(self) -> Decimal | None:
        """The cycle's hours (003 §4.3), else the annual target times the cycle's years (001 §2.3)."""
        if self.cycle_hours is not None:
            return self.cycle_hours
        return self.annual_hours * self.cycle_years if self.annual_hours is not None else None

    def credits(self, hours: Decimal) -> Decimal | None:
        """Hours ÷ hours per credit, rounded down ("每20学时计算1个学分", 001 §2.3)."""
        if self.hours_per_credit is None:
            return None
        step = Decimal(1).scaleb(-self.credit_decimals)
        return (hours / self.hours_per_credit).quantize(step, rounding=ROUND_DOWN)

    def category_codes(self) -> set[str]:
        return {c.code for c in self.categories}

    def credit_category(self, hour_category: str) -> str | None:
        """The credit category the policy maps a project hour category to, else None."""
        return dict(self.category_map).get(hour_category)

    @property
    def key(self) -> tuple[str, date]:
        return self.jurisdiction_code, self.effective_from


def award_category(policy: Policy | None, hour_category: str) -> str:
    """The category an award's hours count in: the credit category the policy in force on the
    completion day maps the project's hour category to (学时管理, 003 §4.3; DOMAIN.md: hour
    categories map to each province's credit categories by its policy, so category minimums can be
    judged). Unmapped — no policy, no map, or an hour category the map does not name — the hours
    keep the project's hour category, as before mapping existed: they count toward the annual and
    cycle targets but toward no category minimum."""
    mapped = policy.credit_category(hour_category) if policy is not None else None
    return mapped if mapped is not None else hour_category


def school_year_under(policy: Policy | None, d: date) -> int:
    """The school year a day counts in: the policy's `school_year_start`, else 1 September."""
    return school_year_of(d, policy.school_year_start if policy else DEFAULT_SCHOOL_YEAR_START)


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)
