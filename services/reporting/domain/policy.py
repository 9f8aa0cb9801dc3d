"""Reporting rule values as policy data, per jurisdiction and versioned by effective date.

The defaults are seed 004 (Shaanxi's 2023 国培 notice, §3.3 and §4.2) and seed 002 §2 (the 90%
satisfaction target); the ranking weights are this system's own, published here so a host can
see how it is judged. A province with other values adds a version under its code; nothing in the
rules hard-codes a number. A project is judged under the policy of its organiser's province in
force on the project's last day; a ranking under the policy in force on 31 December of its year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

ANY = "*"  # the fallback jurisdiction


@dataclass(frozen=True)
class ReportingPolicy:
    effective_from: date
    # 004 §3.3 "培训结束之后15天内…提交工作简报".
    bulletin_window_days: int = 15
    # 004 §3.3 "10天以内(含10天)的培训项目至少提交2期简报,超过10天的培训项目提交3-5期简报".
    short_project_max_days: int = 10
    short_project_min_bulletins: int = 2
    long_project_min_bulletins: int = 3
    long_project_max_bulletins: int = 5
    # 004 §3.3 "培训结束30天内…报送…考核不合格学员名单等总结材料".
    close_out_days: int = 30
    # 002 §2 "参训教师的满意率达90%以上".
    satisfaction_target: Decimal = Decimal("0.90")
    # Host ranking (004 §4.2 综合排名; the weights are ours): completion, satisfaction, bulletins.
    weight_completion: Decimal = Decimal("0.4")
    weight_satisfaction: Decimal = Decimal("0.4")
    weight_bulletins: Decimal = Decimal("0.2")
    # Quota tilt (004 §4.1 "对学员推选质量高的市、县给予项目和经费倾斜…予以指标调整"; the formula is
    # ours, published here as data): a region's quality score is the weighted mean of its selection,
    # check-in and completion rates; its next-year share is its quota share times
    # 1 + tilt_strength × (score − the mean score), kept within ± tilt_max_shift (domain/tilt.py).
    tilt_weight_selection: Decimal = Decimal("0.3")
    tilt_weight_check_in: Decimal = Decimal("0.4")
    tilt_weight_completion: Decimal = Decimal("0.3")
    tilt_strength: Decimal = Decimal("1")
    tilt_max_shift: Decimal = Decimal("0.2")
    source: str = "004 §3.3, §4.1, §4.2; 002 §2"

    def __post_init__(self) -> None:
        weights = (self.weight_completion, self.weight_satisfaction, self.weight_bulletins)
        if any(w < 0 for w in weights) or sum(weights) != 1:
            raise ValueError("ranking weights must be non-negative and sum to 1")
        if not (0 < self.short_project_min_bulletins and 0 < self.long_project_min_bulletins
                <= self.long_project_max_bulletins):
            raise ValueError("bulletin counts are inconsistent")
        tilt = tuple(self.tilt_weights.values())
        if any(w < 0 for w in tilt) or sum(tilt) != 1:
            raise ValueError("tilt weights must be non-negative and sum to 1")
        if self.tilt_strength < 0 or not 0 <= self.tilt_max_shift < 1:
            raise ValueError("tilt_strength must be ≥ 0 and tilt_max_shift in [0, 1)")

    @property
    def tilt_weights(self) -> dict[str, Decimal]:
        return {"selection_rate": self.tilt_weight_selection, "check_in_rate": self.tilt_weight_check_in,
                "completion_rate": self.tilt_weight_completion}

    @property
    def weights(self) -> dict[str, Decimal]:
        return {"completion": self.weight_completion, "satisfaction": self.weight_satisfaction,
                "bulletins": self.weight_bulletins}


# Jurisdiction (province code, or ANY) → versions, oldest first. The seed notices are the only
# versions known; 004's values apply from the beginning, as no earlier notice is in the seeds.
POLICIES: dict[str, tuple[ReportingPolicy, ...]] = {
    ANY: (ReportingPolicy(effective_from=date.min),),
}


def province_of(code: str | None) -> str | None:
    """The province code of a GB/T 2260 org code (schools included), or None for anything else."""
    if not code or len(code) < 6 or not (code.isascii() and code.isdigit()):
        return None
    return code[:2] + "0000"


def policy_for(org_code: str | None, on: date,
               policies: dict[str, tuple[ReportingPolicy, ...]] = POLICIES) -> ReportingPolicy:
    """The version in force on `on` for the org's province, else the fallback's."""
    for key in (province_of(org_code), ANY):
        in_force = [p for p in policies.get(key or "", ()) if p.effective_from <= on]
        if in_force:
            return max(in_force, key=lambda p: p.effective_from)
    raise LookupError(f"no reporting policy in force on {on}")
