"""A teacher's ledger (学时档案) and what it adds up to, as of a date.

Entries come from awards (EnrollmentCompleted → HoursAwarded) and approved claims. A wrong entry
is never deleted: a revocation is a later line with negative hours, so the history stays
auditable (001 §5.4 备案、审核). `as_of` shows the ledger as it stood on a past date: only lines
recorded by then, and only the policy versions published by then.

Judgement:
- credits of an entry follow the policy in force on the day it was *earned*; hours are summed per
  (school year, policy version) before converting, so rounding happens once per year and version,
  never per entry, and a cycle's credits are the sum of its years';
- a period's target (annual, cycle) is that of the policy in force on the earlier of `as_of` and
  the period's last day — a mid-cycle change applies to the running cycle from when it is known.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal
from typing import Any

from shared.calendar import DEFAULT_SCHOOL_YEAR_START, school_year_bounds, school_year_label, school_year_of

from .policies import PolicyBook
from .policy import Policy, add_years

ZERO = Decimal("0.0")
RATIO = Decimal("0.0001")  # progress and shares: 4 places, rounded down (never overstates)


@dataclass(frozen=True)
class Entry:
    entry_id: str
    teacher_id: str
    kind: str  # "award" (from enrollment) or "claim" (reviewed outside hours)
    hours: Decimal
    category: str
    earned_on: date
    school_year: int
    recorded_on: date
    revoked_on: date | None = None
    revoke_reason: str | None = None
    source: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def visible(self, as_of: date) -> bool:
        return self.recorded_on <= as_of

    def active(self, as_of: date) -> bool:
        return self.visible(as_of) and (self.revoked_on is None or self.revoked_on > as_of)


@dataclass(frozen=True)
class Line:
    kind: str  # "entry" or "revocation"
    on: date
    hours: Decimal  # negative on a revocation line
    entry: Entry
    status: str  # of the entry as of the transcript date: "active" or "revoked"


@dataclass(frozen=True)
class CategorySum:
    category: str
    hours: Decimal
    credits: Decimal | None
    min_hours: Decimal | None
    met: bool | None


@dataclass(frozen=True)
class Period:
    """A school year or a cycle: what was earned against what was required."""

    kind: str  # "year" or "cycle"
    start_year: int
    end_year: int
    label: str
    hours: Decimal
    credits: Decimal | None
    target: Decimal | None
    target_basis: str | None
    met: bool | None
    progress: Decimal | None
    categories: tuple[CategorySum, ...]
    entry_ids: tuple[str, ...]
    policy: Policy | None


@dataclass(frozen=True)
class Induction:
    hired_on: date
    window_ends_on: date
    target: Decimal
    hours: Decimal
    met: bool
    progress: Decimal


def ratio(part: Decimal, whole: Decimal | None) -> Decimal | None:
    if not whole:
        return None
    return (part / whole).quantize(RATIO, rounding=ROUND_DOWN)


class Ledger:
    def __init__(self, entries: Iterable[Entry], book: PolicyBook, chain: Sequence[str],
                 hired_on: date | None, as_of: date) -> None:
        self.as_of = as_of
        self.book = book.known_at(as_of)
        self.chain = list(chain)
        self.hired_on = hired_on
        self.visible = sorted((e for e in entries if e.visible(as_of)), key=lambda e: (e.recorded_on, e.entry_id))
        self.active = [e for e in self.visible if e.active(as_of)]
        self.policy = self.book.for_chain(self.chain, as_of)
        self.start = self.policy.school_year_start if self.policy else DEFAULT_SCHOOL_YEAR_START
        self.current_year = school_year_of(as_of, self.start)

    def policy_on(self, d: date) -> Policy | None:
        return self.book.for_chain(self.chain, d)

    def lines(self) -> list[Line]:
        out = []
        for e in self.visible:
            status = "active" if e.active(self.as_of) else "revoked"
            out.append(Line("entry", e.recorded_on, e.hours, e, status))
            if e.revoked_on is not None and e.revoked_on <= self.as_of:
                out.append(Line("revocation", e.revoked_on, -e.hours, e, status))
        return sorted(out, key=lambda ln: (ln.on, ln.kind == "revocation"))

    def _credits(self, entries: Sequence[Entry]) -> Decimal | None:
        # Credits are registered per school year (001 §5.4 分学年登记): convert once per
        # (school year, policy version), so a cycle's credits are the sum of its years'.
        groups: dict[tuple[int, str, date], tuple[Policy, Decimal]] = {}
        for e in entries:
            p = self.policy_on(e.earned_on)
            if p is not None and p.hours_per_credit is not None:
                key = (e.school_year, *p.key)
                _, h = groups.get(key, (p, ZERO))
                groups[key] = (p, h + e.hours)
        if not groups:
            return None
        credits = (p.credits(h) for p, h in groups.values())  # every grouped policy converts
        return sum((c for c in credits if c is not None), Decimal(0))

    def _period(self, kind: str, first: int, last: int, label: str,
                target_of: Callable[[Policy], tuple[Decimal | None, str | None]]) -> Period:
        entries = [e for e in self.active if first <= e.school_year <= last]
        hours = sum((e.hours for e in entries), ZERO)
        last_day = school_year_bounds(last, self.start)[1]
        policy = self.policy_on(min(self.as_of, last_day))
        target, basis = target_of(policy) if policy else (None, None)
        by_cat: dict[str, list[Entry]] = {}
        for e in entries:
            by_cat.setdefault(e.category, []).append(e)
        minimums = {c.code: c.min_hours for c in policy.categories} if policy and kind == "year" else {}
        # No hours yet under a policy that converts is zero credits, not "no conversion".
        nil = Decimal(0) if policy is not None and policy.hours_per_credit is not None else None
        cats = []
        for code in sorted(set(by_cat) | set(minimums)):
            h = sum((e.hours for e in by_cat.get(code, ())), ZERO)
            m = minimums.get(code)
            credits = self._credits(by_cat.get(code, ()))
            cats.append(CategorySum(code, h, nil if credits is None else credits, m, None if m is None else h >= m))
        met = None if target is None else hours >= target and all(c.met is not False for c in cats)
        credits = self._credits(entries)
        return Period(kind, first, last, label, hours, nil if credits is None else credits, target, basis, met,
                      ratio(hours, target), tuple(cats), tuple(e.entry_id for e in entries), policy)

    def year(self, school_year: int) -> Period:
        return self._period("year", school_year, school_year, school_year_label(school_year, self.start),
                            lambda p: p.annual_target())

    def cycle(self, start_year: int | None = None) -> Period | None:
        if self.policy is None:
            return None
        first, last = self.policy.cycle_of(self.current_year if start_year is None else start_year)
        return self._period("cycle", first, last, f"{first}—{last}周期",
                            lambda p: (p.cycle_target(), "cycle"))

    def years(self) -> list[Period]:
        wanted = {e.school_year for e in self.visible}  # a year whose entries were all revoked still shows
        if self.policy is not None:
            first, _ = self.policy.cycle_of(self.current_year)
            wanted |= set(range(first, self.current_year + 1))
        return [self.year(y) for y in sorted(wanted)]

    def induction(self) -> Induction | None:
        """For a new teacher (hired less than `induction_years` ago): hours earned since hiring,
        against the induction target (新入职教师 120 学时, 003 §4.3)."""
        p = self.policy
        if p is None or p.induction_hours is None or self.hired_on is None or self.hired_on > self.as_of:
            return None
        ends = add_years(self.hired_on, p.induction_years)
        if self.as_of >= ends:
            return None
        hours = sum((e.hours for e in self.active if self.hired_on <= e.earned_on < ends), ZERO)
        return Induction(self.hired_on, ends, p.induction_hours, hours, hours >= p.induction_hours,
                         ratio(hours, p.induction_hours) or Decimal(0))
