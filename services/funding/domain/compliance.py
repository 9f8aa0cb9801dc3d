"""Funding ratios and the compliance verdicts of the policy in force (DOMAIN.md "Funding").

Figures are integer fen. Two different roundings, on purpose:
- Display: a ratio is shown as a decimal string with 4 places, rounded ROUND_HALF_EVEN, computed
  with integers only (no float, no intermediate Decimal context rounding).
- Verdict: a threshold `share = p / q` (the exact fraction of its Decimal) is compared exactly,
  `num / den >= p / q  ⇔  num·q >= den·p`, so a flag flips exactly at the threshold whatever the
  display rounding says (0.049996 shows as 0.0500 and is still below 5%).

Which rules judge which org (001 §6.7; 002 §4.2.2; 003 §5.2):
- a school: training spending ÷ its (daily) public-funds budget ≥ the school share;
- a county-level org (district): training budget ÷ staff payroll ≥ the minimum, and ≤ the maximum
  where the policy sets a band; allocations passed down to schools ÷ training budget ≥ pass-down.
Cities and provinces get their figures but no verdicts: no seed sets a rule for them.
A ratio over a zero (or undeclared) base has no value and no verdict (null).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.ratios import ratio as _ratio

from .policy import FundingPolicy

DISPLAY_PLACES = 4
ROUNDING = "ROUND_HALF_EVEN to 4 decimal places for display; verdicts compare exact integers"


@dataclass(frozen=True)
class Figures:
    public_funds_budget_fen: int = 0
    payroll_fen: int = 0
    training_budget_fen: int = 0
    received_fen: int = 0
    allocated_fen: int = 0
    spent_fen: int = 0
    declared: bool = False


def ratio(num: int, den: int, places: int = DISPLAY_PLACES) -> str | None:
    """num/den rounded half-even to `places` decimals; None when den is 0 (shared/ratios.py)."""
    return _ratio(num, den, places)


def at_least(num: int, den: int, share: Decimal) -> bool:
    p, q = share.as_integer_ratio()
    return num * q >= den * p


def at_most(num: int, den: int, share: Decimal) -> bool:
    p, q = share.as_integer_ratio()
    return num * q <= den * p


def ratios(f: Figures) -> dict[str, str | None]:
    return {
        "funding_ratio": ratio(f.spent_fen, f.public_funds_budget_fen),  # spending ÷ public-funds budget
        "payroll_share": ratio(f.training_budget_fen, f.payroll_fen),  # training budget ÷ payroll
        "pass_down_share": ratio(f.allocated_fen, f.training_budget_fen),  # passed down ÷ training budget
    }


def _verdict(rule: str, label: str, num: int, den: int, lo: Decimal, hi: Decimal | None,
             policy: FundingPolicy, f: Figures) -> dict[str, Any]:
    judged = f.declared and den > 0
    ok = judged and at_least(num, den, lo) and (hi is None or at_most(num, den, hi))
    return {"rule": rule, "label": label, "ratio": ratio(num, den) if judged else None,
            "threshold_min": str(lo), "threshold_max": None if hi is None else str(hi),
            "compliant": ok if judged else None, "source": policy.source(rule),
            "jurisdiction_code": policy.jurisdiction_code, "effective_from": policy.effective_from.isoformat()}


def judge(kind: str, f: Figures, policy: FundingPolicy | None) -> list[dict[str, Any]]:
    """One verdict per rule of `policy` that applies to an org of `kind`: a school's training
    spending against its public-funds budget (001 §6.7, 002 §4.2.2, 003 §5.2), a district's training
    budget against its payroll band and what it passes down to its schools (002 §4.2.2, 003 §5.2)."""
    if policy is None:
        return []
    out = []
    if kind == "school" and policy.school_public_funds_share is not None:
        basis = "日常公用经费" if policy.school_share_basis == "daily_public_funds" else "公用经费预算总额"
        out.append(_verdict("school_public_funds_share", f"培训经费支出占学校{basis}比例", f.spent_fen,
                            f.public_funds_budget_fen, policy.school_public_funds_share, None, policy, f))
    if kind == "county" and policy.district_payroll_share_min is not None:
        out.append(_verdict("district_payroll_share", "培训经费预算占教职工工资总额比例", f.training_budget_fen,
                            f.payroll_fen, policy.district_payroll_share_min, policy.district_payroll_share_max,
                            policy, f))
    if kind == "county" and policy.pass_down_min is not None:
        out.append(_verdict("pass_down_share", "培训经费下拨学校比例", f.allocated_fen, f.training_budget_fen,
                            policy.pass_down_min, None, policy, f))
    return out


def compliant(verdicts: list[dict[str, Any]]) -> bool | None:
    """Three-valued AND of the verdicts: False if any rule fails, None if any could not be judged
    (or there is no rule), True when every rule is met."""
    flags = [v["compliant"] for v in verdicts]
    if False in flags:
        return False
    if not flags or None in flags:
        return None
    return True
