"""Project commands judged on facts outside the project's own stream: the organizer and host a
draft names and its code's uniqueness, a quota's region and the places already used, and who
may approve a plan. The project stream's own rules are in project.py; the handlers read these
facts under the locks guards.py orders. The order of the checks is the order refusals come in.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.orgs import org_within
from shared.refusal import Refused

from .project import DraftProject, Events, ProjectState, decide_allocate_quota, decide_draft, plan_of
from .rules import DEFAULT_RULES, ProjectRules

QUOTA_REGION_KINDS = ("city", "county", "school")  # DOMAIN.md: places go to cities and counties (and schools)


@dataclass(frozen=True)
class DraftFacts:
    organizer_known: bool  # the organizing org is registered
    host_known: bool  # the host named, if any, is registered
    code_taken: bool  # another project already has this code (read under the code's lock)


def decide_new_project(state: ProjectState, cmd: DraftProject, facts: DraftFacts,
                       rules: ProjectRules = DEFAULT_RULES, policy_label: str = "default") -> Events:
    """`rules`: those of the enrollment policy in force (domain/policy.py), named by `policy_label`."""
    if not facts.organizer_known:  # 422: the body names it
        raise Refused("org_not_found", f"no org {cmd.organizer_code}", 422)
    if not facts.host_known:
        raise Refused("host_not_found", f"no host {cmd.host_id}", 422)
    events = decide_draft(state, cmd, rules)
    if facts.code_taken:  # the project's public number (项目编号) names one project
        raise Refused("project_code_exists", f"project code {cmd.code} is already used")
    return [(t, {**d, "policy": policy_label}) for t, d in events]


def decide_quota(state: ProjectState, region_code: str, region_kind: str | None, places: int,
                 used: int | None, split: int = 0, split_from: str | None = None) -> Events:
    """参训指标: a project's places go to regions under its organizer; a region's quota may be
    set again (unused places reassigned, 004 §2.4) but never below the places its live
    nominations already use, plus those a city gave its counties (`split`, 004 §2.2,
    quota_split.py). `used` is None before the region's first allocation. A county whose
    places its city gave (`split_from`) takes them from the city, not from the organizer."""
    organizer = plan_of(state).organizer_code
    if region_kind is None:
        raise Refused("region_not_found", f"no org {region_code}", 404)
    if region_kind not in QUOTA_REGION_KINDS:
        raise Refused("region_kind_invalid", f"{region_code} is a {region_kind}", 422)
    if not org_within(region_code, organizer):
        raise Refused("region_outside_organizer", f"{region_code} is not under {organizer}", 422)
    events = decide_allocate_quota(state, region_code, places)
    if split_from is not None:
        raise Refused("quota_source_conflict", f"{region_code} holds places its city {split_from} gave it")
    if used is not None and used + split > places:
        raise Refused("quota_below_used", f"{used} places are already used in {region_code}"
                                          + (f" and {split} given to its counties" if split else ""))
    return events


def check_reviewer(role: str, org: str, organizer_code: str) -> None:
    """004 §3.2 方案审核备案: a plan is reviewed by a higher administration than its organizer's;
    a province, having none above it in the tree, approves its own projects."""
    if organizer_code == org and not (role == "province_admin" and org[2:] == "0000"):
        raise Refused("self_approval", "a plan is approved by a higher-level administration", 403)
