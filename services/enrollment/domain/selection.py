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
    # ... "除实行跨年度培训的项目外": cross-year training is exempt from the repeat rule — read
    # narrowly (check_national_history): a cross-year project continuing the teacher's earlier
    # cross-year participation of its category, not any nomination into a cross-year project.
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
    # The attended categories every attended national project of which was cross-year: a
    # cross-year project of one of them continues that training (check_national_history).
    continuing_categories: frozenset[str] = frozenset()


def national_years(year: int, ends_year: int, cross_year: bool) -> range:
    """004 §3.1 "年度内参加国培项目不超过1项" with §3.2's cross-year projects ("跨年度项目需在11月30日
    前完成第一年度培训任务,并按要求在两年内完成实施"): the calendar years a national project's place
    takes — a cross-year project's every year from its first (`year`) to the one it ends in, a
    single-year project's own year only."""
    return range(year, max(year, ends_year) + 1) if cross_year else range(year, year + 1)


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


def is_category_repeat(category: str, cross_year: bool, history: NationalHistory,
                       rules: SelectionRules = DEFAULT_RULES) -> bool:
    """004 §3.1 "除实行跨年度培训的项目外,凡参加过'国培计划'同类项目的学员不得重复选派".

    The reading chosen: the exception is for cross-year *training* — a training that runs over
    two years (§3.2: the first year's part by 30 November, the whole within two years) is one
    training in phases, and a teacher who attended its earlier phase is not "repeating" the
    category when nominated to its next. So a nomination into a cross-year project of category X
    is exempt only if every national project of X the teacher attended was itself cross-year
    (`history.continuing_categories`). A teacher who attended a single-year national project of
    X has had the category's training: a cross-year project of X would repeat it, and is refused
    like any other; so is a single-year project of X after a cross-year one (that project does
    not "实行跨年度培训"). The wider reading — any cross-year project exempt — would let every
    cross-year project bypass the rule, which the sentence's "凡参加过…不得重复选派" does not
    suggest. The seeds name no programme identity beyond category, so "continuing" is judged
    by category. `rules.cross_year_exempt_from_repeat` switches the exception off for a
    province that has none; `rules.no_repeat_category` the whole rule."""
    if not rules.no_repeat_category or category not in history.attended_categories:
        return False
    continuing = cross_year and category in history.continuing_categories
    return not (continuing and rules.cross_year_exempt_from_repeat)


def check_national_history(category: str, year: int, cross_year: bool, history: NationalHistory,
                           rules: SelectionRules = DEFAULT_RULES, ends_year: int | None = None) -> None:
    """004 §3.1: no second national project of a category attended (is_category_repeat: a
    cross-year project continuing cross-year training of the category exempt), and at most one
    national project a year — in every year the project spans (national_years; `ends_year`: the
    year it ends, the project's own year if not given)."""
    if is_category_repeat(category, cross_year, history, rules):
        raise Refused("category_repeat", f"teacher already attended a national project of category {category!r}")
    for held in national_years(year, year if ends_year is None else ends_year, cross_year):
        if held in history.slot_years:
            raise Refused("national_limit", f"teacher already holds a national project in {held}")


def check_nominee(level: str, category: str, year: int, cross_year: bool, history: NationalHistory,
                  rules: SelectionRules = DEFAULT_RULES, ends_year: int | None = None) -> None:
    """Refuse a national nominee (or replacement nominee) the rules forbid; others pass."""
    if rules.is_national(level):
        check_not_barred(year, history)
        check_national_history(category, year, cross_year, history, rules, ends_year)
