"""Next year's places per region, tilted by this year's selection quality (指标调整, 004 §4.1).

004 §4.1: the province "对学员推选质量高的市、县给予项目和经费倾斜, 对学员选派质量不高、参训率低的
市县进行通报…予以指标调整". The formula is this system's, its numbers policy data
(domain/policy.py, tilt_*), so a province can see and change how it is judged:
- score: the weighted mean of the region's selection, check-in and completion rates this year
  (exact fractions; a rate with a zero denominator is left out and the other weights renormalised;
  no defined rate at all: no score, and no tilt);
- factor: 1 + tilt_strength × (score − the quota-weighted mean score), kept within
  1 ± tilt_max_shift;
- suggested places: `places` shared out in proportion to quota × factor (every region with no
  quota this year shares equally when nobody had one), rounded by largest remainder so they sum to
  `places` exactly (ties to the lower region code).
A suggestion, not an allocation: the province still allocates with PUT .../quotas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .policy import ReportingPolicy
from .rates import Figures


@dataclass(frozen=True)
class Suggestion:
    region_code: str
    quota: int  # this year's places
    score: Fraction | None
    factor: Fraction
    places: int  # suggested for next year


def quality(figures: Figures, policy: ReportingPolicy) -> Fraction | None:
    """A region's score for suggest_quotas: the weighted mean of its defined rates, or None."""
    total = weight = Fraction(0)
    for rate, w in policy.tilt_weights.items():
        num, den = figures.fraction(rate)
        if den > 0 and w > 0:
            total += Fraction(w) * Fraction(num, den)
            weight += Fraction(w)
    return total / weight if weight else None


def suggest_quotas(regions: Sequence[tuple[str, Figures]], places: int, policy: ReportingPolicy) -> list[Suggestion]:
    """004 §4.1: `places` for next year shared among `regions` (code, this year's figures)."""
    if places < 0:
        raise ValueError("places must be ≥ 0")
    scores = {code: quality(f, policy) for code, f in regions}
    scored = [(f.quota, s) for (code, f), s in zip(regions, scores.values(), strict=True) if s is not None]
    weight = sum(q for q, _ in scored)
    mean = sum((q * s for q, s in scored), Fraction(0)) / weight if weight else None
    low, high = 1 - Fraction(policy.tilt_max_shift), 1 + Fraction(policy.tilt_max_shift)

    def factor(score: Fraction | None) -> Fraction:
        if score is None or mean is None:
            return Fraction(1)
        return min(high, max(low, 1 + Fraction(policy.tilt_strength) * (score - mean)))

    any_quota = any(f.quota for _, f in regions)
    raw = {code: (Fraction(f.quota) if any_quota else Fraction(1)) * factor(scores[code]) for code, f in regions}
    total = sum(raw.values(), Fraction(0))
    ideal = {code: (places * r / total if total else Fraction(0)) for code, r in raw.items()}
    given = {code: int(v) for code, v in ideal.items()}  # floor: ideals are ≥ 0
    left = places - sum(given.values()) if total else 0
    for code in sorted(ideal, key=lambda c: (-(ideal[c] - given[c]), c))[:left]:
        given[code] += 1
    return [Suggestion(code, f.quota, scores[code], factor(scores[code]), given[code]) for code, f in regions]
