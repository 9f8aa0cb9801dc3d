"""Reporting rule values as policy data, per jurisdiction and versioned by effective date.

The defaults are seed 004 (Shaanxi's 2023 国培 notice, §3.3 and §4.2) and seed 002 §2 (the 90%
satisfaction target); the ranking weights are this system's own, published so a host can see how
it is judged. The host duties (bulletin counts and due days, close-out days, ranking weights) are
the enrollment policy's (services/enrollment/domain/policy.py HostDuties): a province, city or
county publishes them there (PUT /v1/policies/{code} on enrollment) and reporting keeps each
version as published (`policies`). A project is judged under the version in force on its last
day for its organiser — its own, its city's, its province's (shared/orgs.py chain), else the
defaults below; a ranking under the version in force on 31 December of its year.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from shared.orgs import chain


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
    # 004 §3.3 "培训结束30天内…报送…考核不合格学员名单等总结材料…每个单位至少报送1个优秀工作案例,
    # 每一子项目需报送不少于1门高品质课程视频资源".
    close_out_days: int = 30
    close_out_min_cases: int = 1
    close_out_min_course_videos: int = 1
    # 002 §2 "参训教师的满意率达90%以上".
    satisfaction_target: Decimal = Decimal("0.90")
    # Host ranking (004 §4.2 综合排名; the weights are ours): completion, satisfaction, bulletins.
    weight_completion: Decimal = Decimal("0.4")
    weight_satisfaction: Decimal = Decimal("0.4")
    weight_bulletins: Decimal = Decimal("0.2")
    # Issue 20: close-out materials on time (004 §3.3) as a fourth term, 0 unless published.
    weight_close_out: Decimal = Decimal("0")
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
        weights = (self.weight_completion, self.weight_satisfaction, self.weight_bulletins, self.weight_close_out)
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
                "bulletins": self.weight_bulletins, "close_out": self.weight_close_out}


DEFAULT = ReportingPolicy(effective_from=date.min)


@dataclass(frozen=True)
class Published:
    """One enrollment policy version as reporting keeps it: whose, from when, which stream
    version (a later one of the same effective_from corrects it), and its data."""

    jurisdiction_code: str
    version: int
    effective_from: date
    body: dict[str, Any]


def _from_published(p: Published) -> ReportingPolicy:
    """The defaults, with what the published version states of the host duties."""
    b, weights = p.body, p.body.get("ranking_weights") or {}
    counts = {"bulletin_window_days": "bulletin_due_days", "short_project_max_days": "short_project_max_days",
              "short_project_min_bulletins": "short_project_min_bulletins",
              "long_project_min_bulletins": "long_project_min_bulletins",
              "long_project_max_bulletins": "long_project_max_bulletins", "close_out_days": "close_out_days",
              "close_out_min_cases": "close_out_min_cases",
              "close_out_min_course_videos": "close_out_min_course_videos"}
    changes: dict[str, Any] = {ours: int(b[theirs]) for ours, theirs in counts.items() if theirs in b}
    changes |= {f"weight_{n}": Decimal(str(weights[n])) for n in ("completion", "satisfaction", "bulletins",
                                                                       "close_out") if n in weights}
    return replace(DEFAULT, effective_from=p.effective_from, **changes)


def policy_for(org_code: str | None, on: date, published: Sequence[Published] = ()) -> ReportingPolicy:
    """The version in force on `on` for the org: the nearest jurisdiction up its chain with a
    version in effect (the latest effective_from not after `on`, its latest correction), else the
    defaults. `published` in stream order per jurisdiction."""
    by_code: dict[str, dict[date, Published]] = {}
    for p in sorted(published, key=lambda p: (p.jurisdiction_code, p.version)):
        by_code.setdefault(p.jurisdiction_code, {})[p.effective_from] = p
    for code in chain(org_code, {}) if org_code else ():
        in_force = [p for d, p in by_code.get(code, {}).items() if d <= on]
        if in_force:
            return _from_published(max(in_force, key=lambda p: p.effective_from))
    return DEFAULT
