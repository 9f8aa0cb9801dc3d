"""The figures every level is judged on (DOMAIN.md "Figures the administration is judged on").

Counts, per enrollment (one place in one project, 报名):
- quota (指标名额): the places allocated to the region (the latest QuotaAllocated per region);
- nominated (报送): enrollments holding a place — everything but a withdrawal. A replacement
  (换人) keeps the place, so the enrollment counts once whoever holds it; a withdrawal frees the
  place and leaves every count but `withdrawn`;
- checked_in (报到): nominees who checked in — checked in, completed or failed;
- completed (结业), failed (不予结业), no_show (recorded no-shows: never checked in);
- withdrawn, replaced (replacements made), evaluations and satisfied (learners' evaluations).

Rates (DOMAIN.md): selection 选送率 = nominated ÷ quota, check-in 报到率 = checked_in ÷ nominated,
completion 结业率 = completed ÷ checked_in, satisfaction 满意率 = satisfied ÷ evaluations.
Learners still in training count in checked_in, so a running project's completion rate rises
as it finishes. A rate is shown as a decimal string with 4 places, ROUND_HALF_EVEN, computed
with integers only; a rate whose denominator is 0 is **undefined and shown as null** (empty in
CSV/XLSX) — never 0, never NaN. Comparisons with a threshold (notices, targets) use the exact
fraction, not the rounded string, and an undefined rate is never below a threshold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from shared.ratios import ratio as _ratio
from shared.tally import Tally

PLACES = 4
ROUNDING = "ROUND_HALF_EVEN, 4 decimal places; null when the denominator is 0"
RATES = {  # name → (numerator, denominator)
    "selection_rate": ("nominated", "quota"),
    "check_in_rate": ("checked_in", "nominated"),
    "completion_rate": ("completed", "checked_in"),
    "satisfaction_rate": ("satisfied", "evaluations"),
}
NOTICE_RATES = ("selection_rate", "check_in_rate", "completion_rate")  # 004 §4.2: 选送率、报到率、结业率


@dataclass(frozen=True)
class Figures(Tally):
    quota: int = 0
    nominated: int = 0
    checked_in: int = 0
    completed: int = 0
    failed: int = 0
    no_show: int = 0
    withdrawn: int = 0
    replaced: int = 0
    evaluations: int = 0
    satisfied: int = 0

    def fraction(self, rate: str) -> tuple[int, int]:
        num, den = RATES[rate]
        return getattr(self, num), getattr(self, den)

    def rate(self, rate: str) -> str | None:
        return ratio(*self.fraction(rate))

    def below(self, rate: str, threshold: Decimal) -> bool:
        """A region named in a notice (通报, 004 §4.2) is one whose rate is below the threshold:
        exactly num/den < threshold; an undefined rate is never below."""
        num, den = self.fraction(rate)
        if den <= 0:
            return False
        p, q = threshold.as_integer_ratio()
        return num * q < den * p

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {name: self.rate(name) for name in RATES}


def ratio(num: int, den: int, places: int = PLACES) -> str | None:
    """num/den rounded half-even to `places` decimals; None when den is 0 (shared/ratios.py)."""
    return _ratio(num, den, places)


def shown(value: Fraction | None) -> str | None:
    """An exact fraction (a score, a share) as the same 4-place string; None stays None."""
    return None if value is None else ratio(value.numerator, value.denominator)
