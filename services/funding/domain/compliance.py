"""Funding ratios and the compliance verdicts of the policy in force (DOMAIN.md "Funding").

Figures are integer fen. Two different roundings, on purpose:
- Display: a ratio is shown as a decimal string with 4 places, rounded ROUND_HALF_EVEN, computed
  with integers only (no float, no intermediate Decimal context rounding).
- Verdict: a threshold `share = p / q` (the exact fraction of its Decimal) is compared exactly,
  `num / den >= p / q  ⇔  num·q >= den·p`, so a flag flips exactly at the threshold whatever the
  display rounding says (0.049996 shows as 0.0500 and is still below 5%).

Which rules judge which org (001 §6.7; 002 §4.2.2; 003 §5.2):
- a school: the training budget it sets aside ÷ its (daily) public-funds budget ≥ the school share
  (按…预算总额的5%安排 / 按…10%的比例提取: a share of the budget, issue 20). What it has spent is
  shown beside it (`spending_share`, spent ÷ the same base, district pass-down included) with no
  verdict: a school that set aside 5% and has not spent yet complies;
- a county-level org (district): training budget ÷ staff payroll ≥ the minimum (the verdict); where
  the policy also gives an upper figure (003's 1.5%–2.5%) it is a guide, shown as `guide_max` with
  `above_guide`, never a failure; allocations passed down to schools ÷ training budget ≥ pass-down.
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
        "set_aside_share": ratio(f.training_budget_fen, f.public_funds_budget_fen),  # judged for a school
        "funding_ratio": ratio(f.spent_fen, f.public_funds_budget_fen),  # spending ÷ public-funds budget: no verdict
        "payroll_share": ratio(f.training_budget_fen, f.payroll_fen),  # training budget ÷ payroll
        "pass_down_share": ratio(f.allocated_fen, f.training_budget_fen),  # passed down ÷ training budget
    }


def _verdict(rule: str, label: str, num: int, den: int, lo: Decimal,
             policy: FundingPolicy, f: Figures) -> dict[str, Any]:
    judged = f.declared and den > 0
    ok = judged and at_least(num, den, lo)
    return {"rule": rule, "label": label, "ratio": ratio(num, den) if judged else None,
            "threshold_min": str(lo), "threshold_max": None,
            "compliant": ok if judged else None,
            # Shown, never judged (issue 20); every verdict carries them, null where they do not apply.
            "spending_share": None, "spending_label": None, "guide_max": None, "above_guide": None, "notice": None,
            "source": policy.source(rule),
            "jurisdiction_code": policy.jurisdiction_code, "effective_from": policy.effective_from.isoformat()}


def school_set_aside(f: Figures, policy: FundingPolicy) -> dict[str, Any] | None:
    """001 §6.7 and 003 §5.2 (按照学校年度公用经费预算总额的5%安排教师培训经费), 002 §4.2.2 (按照不低于
    学校年度日常公用经费总额10%的比例提取): a share the school SETS ASIDE of its budget — its declared
    training budget ÷ its (daily) public-funds budget ≥ the share. Money spent is no part of the
    verdict; it is shown as `spending_share` (spent ÷ the same base, pass-down included)."""
    share = policy.school_public_funds_share
    if share is None:
        return None
    basis = "日常公用经费" if policy.school_share_basis == "daily_public_funds" else "公用经费预算总额"
    out = _verdict("school_public_funds_share", f"培训经费预算占学校{basis}比例", f.training_budget_fen,
                   f.public_funds_budget_fen, share, policy, f)
    out["spending_share"] = ratio(f.spent_fen, f.public_funds_budget_fen) if out["ratio"] is not None else None
    out["spending_label"] = f"培训经费支出占学校{basis}比例（仅供参考，不作判定）"
    return out


def district_payroll(f: Figures, policy: FundingPolicy) -> dict[str, Any] | None:
    """002 §4.2.2 (不低于…工资总额3%) and 003 §5.2 (按教职工工资总额的1.5%—2.5%足额安排): the district's
    training budget ÷ staff payroll ≥ the floor is the verdict. 003's upper figure is a guide for
    how much to budget, not a cap: above it the district still complies, and the verdict says so
    (`guide_max`, `above_guide`, a notice) without failing."""
    floor, guide = policy.district_payroll_share_min, policy.district_payroll_share_max
    if floor is None:
        return None
    out = _verdict("district_payroll_share", "培训经费预算占教职工工资总额比例", f.training_budget_fen,
                   f.payroll_fen, floor, policy, f)
    judged = out["compliant"] is not None
    above = None if guide is None or not judged else not at_most(f.training_budget_fen, f.payroll_fen, guide)
    out["guide_max"] = None if guide is None else str(guide)
    out["above_guide"] = above
    out["notice"] = f"高于指导比例上限{_percent(guide)}（仍达标）" if above and guide is not None else None
    return out


def _percent(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}%"


def district_pass_down(f: Figures, policy: FundingPolicy) -> dict[str, Any] | None:
    """002 §4.2.2 (其中至少70%部分足额拨至区内各中小学): allocations passed down to the district's
    schools ÷ its training budget ≥ the pass-down share."""
    if policy.pass_down_min is None:
        return None
    return _verdict("pass_down_share", "培训经费下拨学校比例", f.allocated_fen, f.training_budget_fen,
                    policy.pass_down_min, policy, f)


def judge(kind: str, f: Figures, policy: FundingPolicy | None) -> list[dict[str, Any]]:
    """One verdict per rule of `policy` that applies to an org of `kind`: a school's set-aside, a
    district's payroll floor and what it passes down to its schools (each rule above names its
    source)."""
    if policy is None:
        return []
    rules = {"school": (school_set_aside,), "county": (district_payroll, district_pass_down)}.get(kind, ())
    return [v for rule in rules if (v := rule(f, policy)) is not None]


STATUS_LABELS = {"undeclared": "未申报", "compliant": "达标", "not_compliant": "未达标", "not_judged": "未评判"}


def status(declared: bool, flag: bool | None) -> str:
    """An org's standing in a list (issue 20): one that declared no budget is `undeclared` (未申报),
    listed rather than left out; otherwise the overall flag, `not_judged` when it is null."""
    if not declared:
        return "undeclared"
    return "compliant" if flag else "not_compliant" if flag is False else "not_judged"


def compliant(verdicts: list[dict[str, Any]]) -> bool | None:
    """Three-valued AND of the verdicts: False if any rule fails, None if any could not be judged
    (or there is no rule), True when every rule is met."""
    flags = [v["compliant"] for v in verdicts]
    if False in flags:
        return False
    if not flags or None in flags:
        return None
    return True
