"""Enrollment policy (选派与项目实施规则) per jurisdiction, versioned by effective date.

The numbers of the selection and project rules differ between provinces and years (DOMAIN.md:
"one a year, three years, 20 days, 10 days, 50 %, 20 December … are the 2023 Shaanxi notice's;
other provinces and years differ"). A province, city or county publishes its own versions on the
`policy-<code>` stream (PUT /v1/policies/{code}); a decision uses the version in force
on its own date for the project's organizer, the nearest jurisdiction up the GB/T 2260 chain
that has one, else the national default below, and names it in its event (`policy`).

The default is seed 004 (Shaanxi 2023 国培 notice) with 000 §2.1 for the ethics module; each
field cites its sentence in rules.py (ProjectRules) and selection.py (SelectionRules).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from shared.orgs import chain
from shared.refusal import Refused

from .enrollment import CompletionRules
from .project import LEVELS
from .rules import DEFAULT_RULES, ProjectRules
from .selection import DEFAULT_RULES as DEFAULT_SELECTION
from .selection import SelectionRules

DEFAULT_LABEL = "default"
# 004 三(一) (§3.1) "各市县于本通知下发之后20天内…完成参训教师遴选上传工作": nominations close this many
# days after the project's notice (its opening for selection); the 20th day itself is inside.
DEFAULT_WINDOW_DAYS = 20
# 004 is the 国培 notice: by default its window binds national projects only (issue 20: a
# notice's deadline applies to the levels its source covers); a province may widen the list.
DEFAULT_WINDOW_LEVELS = frozenset({"national"})


@dataclass(frozen=True)
class HostDuties:
    """What a host owes after a project, judged by reporting (services/reporting/domain/
    obligations.py, ranking.py), published here with the rest of the project rules."""

    # 004 三(三) (§3.3) "培训结束之后15天内…提交工作简报": bulletins due this many days after the end.
    bulletin_due_days: int = 15
    # 004 §3.3 "10天以内(含10天)的培训项目至少提交2期简报,超过10天的培训项目提交3-5期简报".
    short_project_max_days: int = 10
    short_project_min_bulletins: int = 2
    long_project_min_bulletins: int = 3
    long_project_max_bulletins: int = 5
    # 004 §3.3 "培训结束30天内…报送…总结材料…其中每个单位至少报送1个优秀工作案例,每一子项目需报送不少于1门
    # 高品质课程视频资源": the close-out's days, cases per host and course videos per sub-project.
    close_out_days: int = 30
    close_out_min_cases: int = 1
    close_out_min_course_videos: int = 1
    # 004 §4.2 综合排名 names no weights: these are this system's (completion, satisfaction,
    # bulletins), published so a host sees how it is ranked and a province can set its own.
    ranking_weights: tuple[Decimal, Decimal, Decimal] = (Decimal("0.4"), Decimal("0.4"), Decimal("0.2"))
    # Issue 20: the close-out materials on time (004 §3.3) as a fourth term; 0 by default, so the
    # default ranking is the three terms above. ranking_weights plus this one sum to 1.
    close_out_weight: Decimal = Decimal("0")


DEFAULT_HOST_DUTIES = HostDuties()
DEFAULT_ATTENDANCE_SHARE = CompletionRules().min_attendance_share
_WEIGHT_NAMES = ("completion", "satisfaction", "bulletins")
_DUTY_COUNTS = ("bulletin_due_days", "short_project_max_days", "short_project_min_bulletins",
                "long_project_min_bulletins", "long_project_max_bulletins", "close_out_days", "close_out_min_cases",
                "close_out_min_course_videos")


@dataclass(frozen=True)
class EnrollmentPolicy:
    projects: ProjectRules = DEFAULT_RULES
    selection: SelectionRules = DEFAULT_SELECTION
    nomination_window_days: int | None = DEFAULT_WINDOW_DAYS  # None: no window
    nomination_window_levels: frozenset[str] = DEFAULT_WINDOW_LEVELS  # the project levels it binds
    # Completion's attendance share (enrollment.CompletionRules, where its default is explained).
    min_attendance_share: float | None = DEFAULT_ATTENDANCE_SHARE
    hosts: HostDuties = DEFAULT_HOST_DUTIES
    jurisdiction_code: str | None = None  # None: the national default
    effective_from: date | None = None
    published_on: date | None = None
    version: int = field(default=0, compare=False)  # the stream version that published it

    @property
    def label(self) -> str:
        """How an event names the version it was decided under: `610000@2026-09-01`, or `default`."""
        if self.jurisdiction_code is None or self.effective_from is None:
            return DEFAULT_LABEL
        return f"{self.jurisdiction_code}@{self.effective_from.isoformat()}"


DEFAULT_POLICY = EnrollmentPolicy()


def _md(pair: tuple[int, int]) -> str:
    return f"{pair[0]:02d}-{pair[1]:02d}"


def _pair(text: str) -> tuple[int, int]:
    month, day = (int(x) for x in text.split("-"))
    return month, day


def policy_to_data(p: EnrollmentPolicy) -> dict[str, Any]:
    r, s = p.projects, p.selection
    return {
        "jurisdiction_code": p.jurisdiction_code,
        "effective_from": p.effective_from.isoformat() if p.effective_from else None,
        "nomination_window_days": p.nomination_window_days,
        "nomination_window_levels": sorted(p.nomination_window_levels),
        "min_attendance_share": p.min_attendance_share,
        "plan_lead_days": r.plan_lead_days, "min_practical_ratio": r.min_practical_ratio,
        "ethics_module_required": r.ethics_module_kind is not None,
        "single_year_end": _md(r.single_year_end), "cross_year_first_year_end": _md(r.cross_year_first_year_end),
        "cross_year_span_years": r.cross_year_span_years, "max_project_hours": r.max_project_hours,
        "calendar_levels": sorted(r.calendar_levels),
        "bar_years": s.bar_years, "no_repeat_category": s.no_repeat_category,
        "cross_year_exempt_from_repeat": s.cross_year_exempt_from_repeat,
        "national_projects_per_year": s.national_projects_per_year,
        **{k: v for k, v in asdict(p.hosts).items() if k not in ("ranking_weights", "close_out_weight")},
        "ranking_weights": {n: str(w) for n, w in zip(_WEIGHT_NAMES, p.hosts.ranking_weights, strict=True)}
        | {"close_out": str(p.hosts.close_out_weight)},
        "published_on": p.published_on.isoformat() if p.published_on else None,
    }


def policy_from_data(d: dict[str, Any], version: int = 0) -> EnrollmentPolicy:
    projects = ProjectRules(
        plan_lead_days=int(d["plan_lead_days"]), min_practical_ratio=float(d["min_practical_ratio"]),
        ethics_module_kind=DEFAULT_RULES.ethics_module_kind if d.get("ethics_module_required", True) else None,
        single_year_end=_pair(d["single_year_end"]), cross_year_first_year_end=_pair(d["cross_year_first_year_end"]),
        cross_year_span_years=int(d["cross_year_span_years"]), max_project_hours=float(d["max_project_hours"]),
        calendar_levels=frozenset(d.get("calendar_levels", DEFAULT_RULES.calendar_levels)))
    selection = SelectionRules(bar_years=int(d["bar_years"]), no_repeat_category=bool(d["no_repeat_category"]),
                               cross_year_exempt_from_repeat=bool(d["cross_year_exempt_from_repeat"]))
    window = d.get("nomination_window_days")
    weights = d.get("ranking_weights") or {}
    w = [Decimal(str(weights[n])) if n in weights else dflt
         for n, dflt in zip(_WEIGHT_NAMES, DEFAULT_HOST_DUTIES.ranking_weights, strict=True)]
    hosts = HostDuties(**{f: int(d.get(f, getattr(DEFAULT_HOST_DUTIES, f))) for f in _DUTY_COUNTS},
                       ranking_weights=(w[0], w[1], w[2]),
                       close_out_weight=Decimal(str(weights.get("close_out", "0"))))
    return EnrollmentPolicy(hosts=hosts,
        projects=projects, selection=selection, nomination_window_days=None if window is None else int(window),
        nomination_window_levels=frozenset(d.get("nomination_window_levels", DEFAULT_WINDOW_LEVELS)),
        min_attendance_share=d.get("min_attendance_share", DEFAULT_ATTENDANCE_SHARE),
        jurisdiction_code=d.get("jurisdiction_code"),
        effective_from=date.fromisoformat(d["effective_from"]) if d.get("effective_from") else None,
        published_on=date.fromisoformat(d["published_on"]) if d.get("published_on") else None, version=version)


def _is_jurisdiction(code: str) -> bool:
    # GB/T 2260: a province, city or county (6 digits); schools follow their county's policy.
    return len(code) == 6 and code.isascii() and code.isdigit() and code[:2] != "00"


def validate(p: EnrollmentPolicy) -> None:
    """What a published version must hold (a 422 names the field)."""
    if p.jurisdiction_code is None or not _is_jurisdiction(p.jurisdiction_code):
        raise Refused("invalid_jurisdiction", f"{p.jurisdiction_code} is not a GB/T 2260 province, city or county "
                                              "code", 422)
    r, s = p.projects, p.selection
    if p.nomination_window_days is not None and not 1 <= p.nomination_window_days <= 366:
        raise Refused("invalid_policy", "nomination_window_days must be 1–366 or null", 422)
    if p.min_attendance_share is not None and not 0 <= p.min_attendance_share <= 1:
        raise Refused("invalid_policy", "min_attendance_share must be 0–1 or null", 422)
    if not p.nomination_window_levels <= set(LEVELS) or not r.calendar_levels <= set(LEVELS):
        raise Refused("invalid_policy", f"nomination_window_levels and calendar_levels must be among "
                                        f"{', '.join(LEVELS)}", 422)
    if not 0 <= r.plan_lead_days <= 180 or not 0 <= r.min_practical_ratio <= 1:
        raise Refused("invalid_policy", "plan_lead_days must be 0–180 and min_practical_ratio 0–1", 422)
    if not 1 <= r.cross_year_span_years <= 5 or not 0 < r.max_project_hours <= 2000:
        raise Refused("invalid_policy", "cross_year_span_years must be 1–5 and max_project_hours in (0, 2000]", 422)
    for name, (month, day) in (("single_year_end", r.single_year_end),
                               ("cross_year_first_year_end", r.cross_year_first_year_end)):
        try:
            date(2001, month, day)  # a year without 29 February: the date must exist every year
        except ValueError:
            raise Refused("invalid_policy", f"{name} must be a real MM-DD date", 422) from None
    if not 0 <= s.bar_years <= 10:
        raise Refused("invalid_policy", "bar_years must be 0–10", 422)
    h = p.hosts
    if not (0 < h.short_project_min_bulletins and 0 < h.long_project_min_bulletins <= h.long_project_max_bulletins
            and 0 < h.short_project_max_days and 0 < h.bulletin_due_days and 0 < h.close_out_days):
        raise Refused("invalid_policy", "bulletin counts and due days must be positive, long min ≤ long max", 422)
    if any(w < 0 for w in (*h.ranking_weights, h.close_out_weight)) or sum(h.ranking_weights) + h.close_out_weight != 1:
        raise Refused("invalid_policy", "ranking_weights must be non-negative and sum to 1", 422)


def evolve_policy(state: tuple[EnrollmentPolicy, ...], event_type: str, data: dict[str, Any]
                  ) -> tuple[EnrollmentPolicy, ...]:
    if event_type != "EnrollmentPolicyPublished":
        return state
    p = policy_from_data(data)  # its stream version is the read model's (projector/policies.py)
    return tuple(v for v in state if v.effective_from != p.effective_from) + (p,)


def decide_publish(state: tuple[EnrollmentPolicy, ...], wanted: EnrollmentPolicy, today: date
                   ) -> list[tuple[str, dict[str, Any]]]:
    """EnrollmentPolicyPublished for a new version or a correction of one (same effective_from);
    nothing for an identical repeat. The national default is code, not a published version."""
    validate(wanted)
    same = next((v for v in state if v.effective_from == wanted.effective_from), None)
    if same is not None and replace(same, published_on=None) == replace(wanted, published_on=None):
        return []
    return [("EnrollmentPolicyPublished", policy_to_data(replace(wanted, published_on=today)))]


def policy_in_force(versions: Iterable[EnrollmentPolicy], organizer_code: str, on: date) -> EnrollmentPolicy:
    """The version that governs a decision on `on` about a project organized by `organizer_code`:
    the nearest jurisdiction up its chain with a version in effect on that date (the latest
    effective_from not after it; a correction of that date wins), else the national default.
    `versions` in publication order."""
    by_code: dict[str, dict[date, EnrollmentPolicy]] = {}
    for v in versions:
        if v.jurisdiction_code is not None and v.effective_from is not None:
            by_code.setdefault(v.jurisdiction_code, {})[v.effective_from] = v  # later publication wins
    for code in chain(organizer_code, {}):  # GB/T 2260 shape: the code, its city, its province
        in_effect = [v for d, v in by_code.get(code, {}).items() if d <= on]
        if in_effect:
            return max(in_effect, key=lambda v: v.effective_from or date.min)
    return DEFAULT_POLICY


def nomination_closes_on(level: str, opened_on: date | None, policy: EnrollmentPolicy) -> date | None:
    """The last day of the nomination window (check_nomination_window), or None: no window for
    this project (none in the policy, not opened, or a level the window does not bind)."""
    days = policy.nomination_window_days
    if days is None or opened_on is None or level not in policy.nomination_window_levels:
        return None
    return opened_on + timedelta(days=days)


def check_nomination_window(level: str, opened_on: date | None, today: date, policy: EnrollmentPolicy) -> None:
    """004 §3.1: a region nominates within N days of the project's notice (its opening for
    selection), for projects of the levels the policy names (national by default). Replacements
    (换人) and substitutes for a no-show's vacancy (缺额调整补充选派, 004 二(四)) are not
    nominations in this sense and pass after it."""
    last = nomination_closes_on(level, opened_on, policy)
    if last is not None and today > last:
        raise Refused("window_closed", f"nominations for this project closed on {last} "
                                       f"({policy.nomination_window_days} days after its notice, "
                                       f"policy {policy.label})")


def versions_of(rows: Sequence[tuple[int, dict[str, Any]]]) -> list[EnrollmentPolicy]:
    """Read-model rows (stream version, body) as versions, in publication order."""
    return [policy_from_data(body, version) for version, body in rows]
