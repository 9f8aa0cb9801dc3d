"""Ratios as the administration reads them: exact integer arithmetic, rounded half-even to a
fixed number of places, returned as a decimal string so JSON never carries a float or NaN.

Standard library only, so services' pure `domain/` packages may use it. A zero (or negative)
denominator has no ratio: None, which JSON shows as null and spreadsheets as an empty cell.
"""

from __future__ import annotations

from decimal import Decimal


def ratio(num: int, den: int, places: int = 4) -> str | None:
    """num/den rounded half-even to `places` decimals, as a string; None when den is 0."""
    if den <= 0:
        return None
    q, r = divmod(num * 10 ** places, den)
    if 2 * r > den or (2 * r == den and q % 2 == 1):
        q += 1
    return str(Decimal(q).scaleb(-places).quantize(Decimal(1).scaleb(-places)))


def ratio_down(num: int, den: int, places: int = 4) -> str | None:
    """num/den rounded DOWN to `places` decimals: a share of people meeting a target is never shown
    as more than it is (4 of 7 meeting is 0.5714, not 0.5715). None when den is 0."""
    if den <= 0:
        return None
    return str(Decimal(num * 10 ** places // den).scaleb(-places).quantize(Decimal(1).scaleb(-places)))


def tenths_as_hours(n: int) -> str:
    """Integer tenths of an hour as hours with one decimal ("179.9")."""
    return str((Decimal(n) / 10).quantize(Decimal("0.1")))
