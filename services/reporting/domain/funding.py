"""Funding compliance from the funding service's events (DOMAIN.md "Funding (经费)"), judged as
the funding service judges it, so both services show the same verdict:

- a school: training spending ÷ its public-funds budget ≥ the school share (001 §6.7 5%; the
  Hangzhou district 10% of daily public funds, 002 §4.2.2);
- a county-level org: training budget ÷ staff payroll ≥ the minimum (and ≤ the maximum where a
  band is set: Jiyuan 1.5%–2.5%, 003 §5.2), and allocations passed down ÷ training budget ≥ the
  pass-down minimum (70%, 002 §4.2.2).
The policy is the one published by the org's nearest jurisdiction (itself, then its ancestors)
in force on 31 December of the year. A rule whose base is 0 or whose budget was never declared
is not judged (null); an org is compliant when every rule is met, not when any is unjudged.
Ratios are integer arithmetic throughout (fen), compared exactly with the Decimal thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .rates import ratio


@dataclass(frozen=True)
class FundingPolicy:
    jurisdiction_code: str
    effective_from: date
    school_public_funds_share: Decimal | None = None
    district_payroll_share_min: Decimal | None = None
    district_payroll_share_max: Decimal | None = None
    pass_down_min: Decimal | None = None


@dataclass(frozen=True)
class Account:
    declared: bool = False
    public_funds_budget_fen: int = 0
    payroll_fen: int = 0
    training_budget_fen: int = 0
    allocated_fen: int = 0
    spent_fen: int = 0


@dataclass(frozen=True)
class Verdict:
    rule: str
    ratio: str | None
    threshold_min: Decimal
    threshold_max: Decimal | None
    compliant: bool | None


def _at_least(num: int, den: int, share: Decimal) -> bool:
    p, q = share.as_integer_ratio()
    return num * q >= den * p


def _at_most(num: int, den: int, share: Decimal) -> bool:
    p, q = share.as_integer_ratio()
    return num * q <= den * p


def _verdict(rule: str, num: int, den: int, lo: Decimal, hi: Decimal | None, a: Account) -> Verdict:
    if not a.declared or den <= 0:
        return Verdict(rule, None, lo, hi, None)
    ok = _at_least(num, den, lo) and (hi is None or _at_most(num, den, hi))
    return Verdict(rule, ratio(num, den), lo, hi, ok)


def judge(kind: str, a: Account, p: FundingPolicy | None) -> list[Verdict]:
    if p is None:
        return []
    out = []
    if kind == "school" and p.school_public_funds_share is not None:
        out.append(_verdict("school_public_funds_share", a.spent_fen, a.public_funds_budget_fen,
                            p.school_public_funds_share, None, a))
    if kind == "county" and p.district_payroll_share_min is not None:
        out.append(_verdict("district_payroll_share", a.training_budget_fen, a.payroll_fen,
                            p.district_payroll_share_min, p.district_payroll_share_max, a))
    if kind == "county" and p.pass_down_min is not None:
        out.append(_verdict("pass_down_share", a.allocated_fen, a.training_budget_fen, p.pass_down_min, None, a))
    return out


def compliant(verdicts: list[Verdict]) -> bool | None:
    """False if any rule fails; None if a rule could not be judged or there is none; else True."""
    flags = [v.compliant for v in verdicts]
    if False in flags:
        return False
    if not flags or None in flags:
        return None
    return True
