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
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from shared.refusal import Refused

from .rules import DEFAULT_RULES, ProjectRules
from .selection import DEFAULT_RULES as DEFAULT_SELECTION
from .selection import SelectionRules

DEFAULT_LABEL = "default"
# 004 三(一) "各市县于本通知下发之后20天内…完成参训教师遴选上传工作": nominations close this many
# days after the project's notice (its opening for selection); the 20th day itself is inside.
DEFAULT_WINDOW_DAYS = 20


@dataclass(frozen=True)
class EnrollmentPolicy:
    projects: ProjectRules = DEFAULT_RULES
    selection: SelectionRules = DEFAULT_SELECTION
    nomination_window_days: int | None = DEFAULT_WINDOW_DAYS  # None: no window
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
        "plan_lead_days": r.plan_lead_days, "min_practical_ratio": r.min_practical_ratio,
        "ethics_module_required": r.ethics_module_kind is not None,
        "single_year_end": _md(r.single_year_end), "cross_year_first_year_end": _md(r.cross_year_first_year_end),
        "cross_year_span_years": r.cross_year_span_years, "max_project_hours": r.max_project_hours,
        "bar_years": s.bar_years, "no_repeat_category": s.no_repeat_category,
        "cross_year_exempt_from_repeat": s.cross_year_exempt_from_repeat,
        "national_projects_per_year": s.national_projects_per_year,
        "published_on": p.published_on.isoformat() if p.published_on else None,
    }


def policy_from_data(d: dict[str, Any], version: int = 0) -> EnrollmentPolicy:
    projects = ProjectRules(
        plan_lead_days=int(d["plan_lead_days"]), min_practical_ratio=float(d["min_practical_ratio"]),
        ethics_module_kind=DEFAULT_RULES.ethics_module_kind if d.get("ethics_module_required", True) else None,
        single_year_end=_pair(d["single_year_end"]), cross_year_first_year_end=_pair(d["cross_year_first_year_end"]),
        cross_year_span_years=int(d["cross_year_span_years"]), max_project_hours=float(d["max_project_hours"]))
    selection = SelectionRules(bar_years=int(d["bar_years"]), no_repeat_category=bool(d["no_repeat_category"]),
                               cross_year_exempt_from_repeat=bool(d["cross_year_exempt_from_repeat"]))
    window = d.get("nomination_window_days")
    return EnrollmentPolicy(
        projects=projects, selection=selection, nomination_window_days=None if window is None else int(window),
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


def gbt_chain(code: str) -> list[str]:
    """The jurisdictions whose policy may govern `code`, nearest first, by GB/T 2260 shape: the
    code, its city (AAAA00) and its province (AA0000). A province-administered county (e.g.
    429004) has no city of that code; it simply has no policy there and its province's applies."""
    if not _is_jurisdiction(code):
        return [code]
    chain = [code, code[:4] + "00", code[:2] + "0000"]
    return list(dict.fromkeys(chain))


def policy_in_force(versions: Iterable[EnrollmentPolicy], organizer_code: str, on: date) -> EnrollmentPolicy:
    """The version that governs a decision on `on` about a project organized by `organizer_code`:
    the nearest jurisdiction up its chain with a version in effect on that date (the latest
    effective_from not after it; a correction of that date wins), else the national default.
    `versions` in publication order."""
    by_code: dict[str, dict[date, EnrollmentPolicy]] = {}
    for v in versions:
        if v.jurisdiction_code is not None and v.effective_from is not None:
            by_code.setdefault(v.jurisdiction_code, {})[v.effective_from] = v  # later publication wins
    for code in gbt_chain(organizer_code):
        in_effect = [v for d, v in by_code.get(code, {}).items() if d <= on]
        if in_effect:
            return max(in_effect, key=lambda v: v.effective_from or date.min)
    return DEFAULT_POLICY


def nomination_closes_on(opened_on: date | None, policy: EnrollmentPolicy) -> date | None:
    """The last day of the nomination window (check_nomination_window), or None: no window."""
    days = policy.nomination_window_days
    if days is None or opened_on is None:
        return None
    return opened_on + timedelta(days=days)


def check_nomination_window(opened_on: date | None, today: date, policy: EnrollmentPolicy) -> None:
    """004 三(一): a region nominates within N days of the project's notice (its opening for
    selection). Replacements (换人) and substitutes for a no-show's vacancy (缺额调整补充选派,
    004 二(四)) are not nominations in this sense and pass after it."""
    last = nomination_closes_on(opened_on, policy)
    if last is not None and today > last:
        raise Refused("window_closed", f"nominations for this project closed on {last} "
                                       f"({policy.nomination_window_days} days after its notice, "
                                       f"policy {policy.label})")


def versions_of(rows: Sequence[tuple[int, dict[str, Any]]]) -> list[EnrollmentPolicy]:
    """Read-model rows (stream version, body) as versions, in publication order."""
    return [policy_from_data(body, version) for version, body in rows]
