"""Quota tilt (指标调整, 004 §4.1, services/reporting/domain/tilt.py): Given this year's figures per
region / When next year's places are suggested / Then the shares follow quota × a bounded factor
from the selection, check-in and completion rates, and always sum to the places. No database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from services.reporting.domain.policy import ReportingPolicy
from services.reporting.domain.rates import Figures
from services.reporting.domain.tilt import quality, suggest_quotas

POLICY = ReportingPolicy(effective_from=date.min)


def region(quota: int, nominated: int, checked_in: int, completed: int) -> Figures:
    return Figures(quota=quota, nominated=nominated, checked_in=checked_in, completed=completed)


def placed(regions, places, policy=POLICY) -> dict[str, int]:
    return {s.region_code: s.places for s in suggest_quotas(regions, places, policy)}


def test_equal_quality_shares_in_proportion_to_this_years_quota():
    assert placed([("A", region(6, 6, 6, 6)), ("B", region(3, 3, 3, 3))], 90) == {"A": 60, "B": 30}


def test_the_better_region_gains_and_the_weaker_loses_within_the_bound():
    good, poor = region(10, 10, 10, 10), region(10, 10, 5, 5)
    # Scores 1 and 0.3·1 + 0.4·½ + 0.3·1 = 0.8, mean 0.9: factors 1.1 and 0.9.
    assert placed([("A", good), ("B", poor)], 100) == {"A": 55, "B": 45}
    steep = replace(POLICY, tilt_strength=Decimal(5))  # 1 ± 0.5 is clipped to 1 ± 0.2
    s = {x.region_code: x for x in suggest_quotas([("A", good), ("B", poor)], 100, steep)}
    assert (s["A"].factor, s["B"].factor, s["A"].places, s["B"].places) == (Fraction(6, 5), Fraction(4, 5), 60, 40)


def test_a_region_with_no_defined_rate_keeps_its_share_untilted():
    s = {x.region_code: x for x in suggest_quotas([("A", region(4, 0, 0, 0)), ("B", region(0, 0, 0, 0))], 10, POLICY)}
    # A nominated nobody: selection 0/4 is defined (0), the others undefined; B has no rate at all.
    assert (s["A"].score, s["B"].score, s["B"].factor) == (Fraction(0), None, Fraction(1))
    assert (s["A"].places, s["B"].places) == (10, 0)  # B had no quota: no share of its own


def test_with_no_quota_anywhere_regions_share_equally_and_remainders_go_by_code():
    assert placed([("B", Figures()), ("A", Figures()), ("C", Figures())], 10) == {"A": 4, "B": 3, "C": 3}


@pytest.mark.parametrize("places", [0, 1, 7, 99, 1000])
def test_the_suggestions_always_sum_to_the_places(places):
    regions = [(c, region(q, n, k, d)) for c, q, n, k, d in
               (("A", 7, 6, 4, 3), ("B", 5, 4, 3, 3), ("C", 3, 3, 1, 0), ("D", 0, 0, 0, 0))]
    assert sum(placed(regions, places).values()) == places


def test_the_weights_are_policy_data():
    a, b = region(10, 10, 5, 5), region(10, 5, 10, 10)  # A selects fully, B checks in and completes fully
    selection_first = replace(POLICY, tilt_weight_selection=Decimal(1), tilt_weight_check_in=Decimal(0),
                              tilt_weight_completion=Decimal(0))
    assert quality(a, selection_first) == 1 and quality(b, selection_first) == Fraction(1, 2)
    assert placed([("A", a), ("B", b)], 100, selection_first)["A"] > 50 > placed([("A", a), ("B", b)], 100)["A"]
    with pytest.raises(ValueError):
        replace(POLICY, tilt_weight_selection=Decimal("0.5"))  # weights no longer sum to 1
