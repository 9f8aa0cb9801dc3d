"""Compliance with the annual target per school and school year — the one judgement behind
GET /v1/orgs/{code}/compliance and the verdicts credits publishes for other services
(GET /v1/compliance/schools, issue 14), so reporting never re-implements it.

Rules (DOMAIN.md "Credit hours and credits"; Jiangxi 60 hours a year, 001 §2.3; Jiyuan's
pro-rata share of 360 hours per cycle, 003 §4.3):
- a teacher counts in school year Y at their school when hired no later than Y's last day (or
  with no hiring date on record);
- Y's last day follows the `school_year_start` of the policy in force on `as_of`;
- the yardstick is the policy in force for the school's chain (nearest jurisdiction wins) on the
  earlier of `as_of` and Y's last day: its annual target (Policy.annual_target) and its category
  minimums;
- a teacher meets it when the target exists, their active hours of Y reach it and every category
  minimum is reached; under no policy up the chain they are `without_policy`, never meeting.
The counting itself runs set-based in SQL over the thresholds decided here
(services/credits/queries/compliance.py), never with thresholds of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from shared.calendar import DEFAULT_SCHOOL_YEAR_START, school_year_bounds
from shared.tally import Tally

from .ledger import ratio
from .policies import PolicyBook
from .policy import Policy, tenths


@dataclass(frozen=True)
class Standard:
    """What a school's teachers are held to in one school year."""

    last_day: date  # of the school year: teachers hired after it do not count in it
    policy: Policy | None = None
    target_tenths: int | None = None
    minimums_tenths: Mapping[str, int] = field(default_factory=dict)


def school_standard(chain: Sequence[str], book: PolicyBook, year: int, as_of: date) -> Standard:
    """The yardstick of a school (its way up the org tree: `chain`) for school year `year`,
    judged on `as_of` (see the module docstring): the annual hours of the policy in force (Jiangxi
    60, 001 §2.3; Jiyuan 360 over five years, 003 §4.3), its category minimums, and the year's last
    day, by which a teacher must have been hired to count."""
    current = book.for_chain(chain, as_of)
    last_day = school_year_bounds(year, current.school_year_start if current else DEFAULT_SCHOOL_YEAR_START)[1]
    policy = book.for_chain(chain, min(as_of, last_day))
    if policy is None:
        return Standard(last_day)
    target, _ = policy.annual_target()
    return Standard(last_day, policy, None if target is None else tenths(target),
                    {c.code: tenths(c.min_hours) for c in policy.categories if c.min_hours})


@dataclass(frozen=True)
class Counts(Tally):
    """Counted teachers of a school (or an org), and how they stand."""

    teachers: int = 0
    meeting: int = 0
    without_policy: int = 0
    with_hours: int = 0
    hours_tenths: int = 0

    @property
    def share(self) -> Decimal | None:
        """meeting ÷ teachers, 4 places rounded down (never more compliance than there is)."""
        return ratio(Decimal(self.meeting), Decimal(self.teachers))


def roll_up(per_school: Mapping[str, Counts], chains: Mapping[str, Sequence[str]], code: str,
            ) -> tuple[Counts, dict[str, Counts]]:
    """`code`'s total and each of its direct children's, from the schools' counts: a school adds
    to every org on its way up to `code`. A school of `chains` with no counted teacher still
    shows its child, at zero."""
    totals: dict[str, Counts] = {}
    for school, counts in per_school.items():
        for node in chains[school]:
            totals[node] = totals.get(node, Counts()) + counts
            if node == code:
                break
    children: dict[str, Counts] = {}
    for chain in chains.values():
        if code in chain[1:]:
            child = chain[chain.index(code) - 1]
            children[child] = totals.get(child, Counts())
    return totals.get(code, Counts()), dict(sorted(children.items()))
