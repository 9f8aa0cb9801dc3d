"""Selection rules (遴选) for national projects, as data plus pure checks.

The values differ between provinces and programmes, so they live in `SelectionRules` with
defaults cited to their source; the checks take a snapshot of a teacher's national history,
which the handlers read from the guards (services/enrollment/guards.py) under the teacher's
lock. That lock is what makes the rules hold under concurrency; the functions here only decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.refusal import Refused


@dataclass(frozen=True)
class SelectionRules:
    # The levels these rules apply to: 国培 (004 is the 国培计划 notice).
    national_levels: frozenset[str] = frozenset({"national"})
    # 004 §4.1 "无特殊情况不参加培训的学员,三年内不得再次参加国培项目": "not again within three
    # years" — the three years after the missed project's year: a 2023 no-show is barred for
    # 2024–2026 (its own year's national place was used by the project missed).
    bar_years: int = 3
    # 004 §3.1 "凡参加过'国培计划'同类项目的学员不得重复选派" ...
    no_repeat_category: bool = True
    # ... "除实行跨年度培训的项目外": a cross-year project is exempt from the repeat rule.
    cross_year_exempt_from_repeat: bool = True
    # 004 §3.1 "每位教师年度内参加国培项目不超过1项". national_slots (guards.py) holds one row per
    # (teacher_id, year), its primary key the backstop, so only the value 1 is supported.
    national_projects_per_year: int = field(default=1, init=False)

    def is_national(self, level: str) -> bool:
        return level in self.national_levels


DEFAULT_RULES = SelectionRules()


@dataclass(frozen=True)
class NationalHistory:
    """What the rules need to know about one teacher, read from the guards."""

    slot_years: frozenset[int] = frozenset()  # years in which the teacher holds a national place
    attended_categories: frozenset[str] = frozenset()  # national categories checked in to
    bars: tuple[tuple[int, int], ...] = ()  # (from_year, until_year), both inclusive


def bar_years(level: str, year: int, special_reason: bool, rules: SelectionRules = DEFAULT_RULES
              ) -> tuple[int, int] | None:
    """004 §4.1, the bar a no-show earns: (first, last) year it bars national projects, both
    inclusive — the `bar_years` years after the missed project's year — or None."""
    if special_reason or not rules.is_national(level) or rules.bar_years <= 0:
        return None
    return year + 1, year + rules.bar_years


def barred_until(level: str, year: int, special_reason: bool, rules: SelectionRules = DEFAULT_RULES) -> int | None:
    """The last year of bar_years(...), or None."""
    bar = bar_years(level, year, special_reason, rules)
    return None if bar is None else bar[1]


def check_not_barred(year: int, history: NationalHistory) -> None:
    """004 §4.1, the bar a no-show earned (barred_until) holding against a national nomination."""
    for from_year, until_year in history.bars:
        if from_year <= year <= until_year:
            raise Refused("barred", f"teacher is barred from national projects until {until_year} "
                                    "(a no-show without a special reason)")


def check_national_history(category: str, year: int, cross_year: bool, history: NationalHistory,
                           rules: SelectionRules = DEFAULT_RULES) -> None:
    """004 §3.1: no second national project of a category attended (cross-year projects
    exempt), and at most one national project a year."""
    repeat_applies = rules.no_repeat_category and not (cross_year and rules.cross_year_exempt_from_repeat)
    if repeat_applies and category in history.attended_categories:
        raise Refused("category_repeat", f"teacher already attended a national project of category {category!r}")
    if year in history.slot_years:
        raise Refused("national_limit", f"teacher already holds a national project in {year}")


def check_nominee(level: str, category: str, year: int, cross_year: bool, history: NationalHistory,
                  rules: SelectionRules = DEFAULT_RULES) -> None:
    """Refuse a national nominee (or replacement nominee) the rules forbid; others pass."""
    if rules.is_national(level):
        check_not_barred(year, history)
        check_national_history(category, year, cross_year, history, rules)
