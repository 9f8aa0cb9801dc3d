"""Teachers short of hours (issue 15): in one school year, how far each counted teacher is from
each target they are held to, and the reminders (TeacherShortOfHours) a messaging system acts on.

Targets (DOMAIN.md "Credit hours and credits"; Jiangxi 60 hours a year, 001 §2.3; Jiyuan 360
hours per five-year cycle, 003 §4.3), under the policy in force for the school's chain on the
earlier of the judging day and the year's last day — the yardstick of compliance
(compliance.school_standard), so the list and the compliance figures never disagree:
- annual: the year's active hours against the annual target (Policy.annual_target);
- category: the year's active hours in each credit category against its minimum (awards count in
  the category their project hour category maps to, policy.award_category);
- cycle: the active hours of the cycle's years up to and including this one against the share of
  the cycle target due by the end of this year — cycle target × years elapsed ÷ cycle years,
  rounded half-up to tenths, as the annual pro-rata share is (Policy.annual_target). In the
  cycle's last year that is the whole cycle target; earlier, a teacher on pace is not reminded
  of hours not yet due, and one behind from earlier years is.
Who is counted: as for compliance, teachers hired by the year's last day (or with no hiring date
on record) at a school under a policy; under no policy there is no target to fall short of.

Reminders: one TeacherShortOfHours per (reminding org, school year, teacher), ever — a retry or a
second run the next week publishes nothing for a teacher already reminded by that org for that
year (stream `reminder-<org>-<year>-<teacher>`); a teacher who becomes short later in the year
is reminded on the next run. The event names the internal teacher id, the year, the shortfalls
and the policy version used; no name, no national ID, no other personal data.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP
from typing import Any

from shared.refusal import Refused

from .compliance import Standard, school_standard
from .policies import PolicyBook
from .policy import TENTH, Policy, from_tenths, num, tenths

ANNUAL, CYCLE, CATEGORY = "annual", "cycle", "category"
REMINDER = "TeacherShortOfHours"


@dataclass(frozen=True)
class Targets:
    """What a school's teachers are held to in one school year: compliance's standard (annual
    target, category minimums, last day, policy) and the cycle share due by the year's end."""

    standard: Standard
    cycle_first: int | None = None
    cycle_last: int | None = None
    cycle_target_tenths: int | None = None  # the whole cycle's
    cycle_due_tenths: int | None = None  # the share due by the end of the year

    @property
    def policy(self) -> Policy | None:
        return self.standard.policy


@dataclass(frozen=True)
class Shortfall:
    target: str  # ANNUAL, CYCLE or CATEGORY
    category: str | None
    required_tenths: int
    hours_tenths: int

    @property
    def short_tenths(self) -> int:
        return self.required_tenths - self.hours_tenths


@dataclass(frozen=True)
class ShortTeacher:
    teacher_id: str
    school_code: str
    targets: Targets
    shortfalls: tuple[Shortfall, ...]


def school_targets(chain: Sequence[str], book: PolicyBook, year: int, as_of: date) -> Targets:
    """The targets of a school (its way up the org tree: `chain`) in school year `year`, judged
    on `as_of`: compliance's yardstick (the annual hours and category minimums of the policy in
    force; Jiangxi 60 a year, 001 §2.3) and the share of the cycle target due by the year's end
    (Jiyuan 360 over five years, 003 §4.3), pro rata as the module docstring states."""
    standard = school_standard(chain, book, year, as_of)
    p = standard.policy
    if p is None:
        return Targets(standard)
    first, last = p.cycle_of(year)
    whole = p.cycle_target()
    if whole is None:
        return Targets(standard, first, last)
    due = (whole * (year - first + 1) / p.cycle_years).quantize(TENTH, rounding=ROUND_HALF_UP)
    return Targets(standard, first, last, tenths(whole), tenths(due))


def shortfalls(t: Targets, year_tenths: int, by_category: Mapping[str, int], cycle_tenths: int,
               ) -> tuple[Shortfall, ...]:
    """A teacher's shortfall against each target of `t` they have not reached (001 §2.3;
    003 §4.3): the year's hours, the year's hours per credit category, and the hours of the
    cycle's years up to this one. Empty when every target is reached (or there is none)."""
    out: list[Shortfall] = []
    s = t.standard
    if s.target_tenths is not None and year_tenths < s.target_tenths:
        out.append(Shortfall(ANNUAL, None, s.target_tenths, year_tenths))
    if t.cycle_due_tenths is not None and cycle_tenths < t.cycle_due_tenths:
        out.append(Shortfall(CYCLE, None, t.cycle_due_tenths, cycle_tenths))
    for code, minimum in sorted(s.minimums_tenths.items()):
        have = by_category.get(code, 0)
        if have < minimum:
            out.append(Shortfall(CATEGORY, code, minimum, have))
    return tuple(out)


def shortfall_data(f: Shortfall, policy: Policy | None) -> dict[str, Any]:
    """A shortfall as events and the API carry it (hours as numbers)."""
    names = {c.code: c.name for c in policy.categories} if policy else {}
    return {"target": f.target, "category": f.category,
            "category_name": names.get(f.category) if f.category else None,
            "required_hours": num(from_tenths(f.required_tenths)), "hours": num(from_tenths(f.hours_tenths)),
            "short_hours": num(from_tenths(f.short_tenths))}


def policy_used(policy: Policy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {"jurisdiction_code": policy.jurisdiction_code, "version": policy.version,
            "effective_from": policy.effective_from.isoformat()}


def reminder_stream(org_code: str, year: int, teacher_id: str) -> str:
    return f"reminder-{org_code}-{year}-{teacher_id}"


def decide_reminders(short: Sequence[ShortTeacher], *, org_code: str, year: int, current_year: int, today: date,
                     reminded: Collection[str]) -> list[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """(stream, [TeacherShortOfHours]) for each short teacher `org_code` has not yet reminded for
    `year` (`reminded`: the reminder streams that exist); see the module docstring. A year that
    has not begun has nothing to remind of yet."""
    if year > current_year:
        raise Refused("period_not_started", f"school year {year} has not begun", 422)
    out = []
    for t in short:
        stream = reminder_stream(org_code, year, t.teacher_id)
        if stream in reminded or not t.shortfalls:
            continue
        out.append((stream, [(REMINDER, {
            "teacher_id": t.teacher_id, "school_year": year, "org_code": org_code, "school_code": t.school_code,
            "shortfalls": [shortfall_data(f, t.targets.policy) for f in t.shortfalls],
            "policy": policy_used(t.targets.policy), "judged_on": today.isoformat()})]))
    return out

