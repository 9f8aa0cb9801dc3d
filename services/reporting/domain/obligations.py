"""A host's obligations after a project (004 §3.3), judged on a given day (`as_of`).

- Work bulletins (工作简报): the project's length in days is ends_on − starts_on + 1; a project of
  at most `short_project_max_days` (10) days owes at least 2 issues, a longer one 3 (up to 5).
  An issue counts as on time when published on or before ends_on + `bulletin_window_days` (15);
  issues published while the training runs count too. The duty is `met` once enough on-time
  issues exist, `overdue` when its last day has passed without that, `pending` before.
- Close-out materials (总结材料, among them the failed learners' list 考核不合格学员名单) are due
  within `close_out_days` (30) of the end. Their delivery is not recorded as an event anywhere,
  so only the deadline and the list itself are reported.
A cancelled project owes nothing (`not_applicable`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from .policy import ReportingPolicy

MET, PENDING, OVERDUE, NOT_APPLICABLE = "met", "pending", "overdue", "not_applicable"


@dataclass(frozen=True)
class Bulletin:
    issue_no: int
    title: str
    published_on: date  # as the host states it
    received_on: date  # the day enrollment received it: what the deadline is judged on


@dataclass(frozen=True)
class BulletinDuty:
    duration_days: int
    required_min: int
    required_max: int | None  # None: no upper figure (short projects)
    due_by: date
    delivered: int
    on_time: int
    status: str

    @property
    def share(self) -> Fraction:
        """On-time issues as a share of the minimum owed, capped at 1 (the ranking's bulletin term)."""
        return Fraction(min(self.on_time, self.required_min), self.required_min)


def duration_days(starts_on: date, ends_on: date) -> int:
    return (ends_on - starts_on).days + 1


def bulletin_due_by(ends_on: date, policy: ReportingPolicy) -> date:
    return ends_on + timedelta(days=policy.bulletin_window_days)


def close_out_due_by(ends_on: date, policy: ReportingPolicy) -> date:
    return ends_on + timedelta(days=policy.close_out_days)


def is_on_time(bulletin: Bulletin, ends_on: date, policy: ReportingPolicy) -> bool:
    """Judged on the day the bulletin reached the system, not the date the host gives it, so a
    backdated bulletin is as late as it is (issue 20)."""
    return bulletin.received_on <= bulletin_due_by(ends_on, policy)


def bulletin_duty(starts_on: date, ends_on: date, bulletins: list[Bulletin], as_of: date,
                  policy: ReportingPolicy, cancelled: bool = False) -> BulletinDuty:
    """A host's bulletins for a project (004 §3.3): at least 2 for ≤ 10 days, 3–5 for longer ones,
    counted when published within the window after the project's end; met, pending or overdue."""
    days = duration_days(starts_on, ends_on)
    short = days <= policy.short_project_max_days
    required = policy.short_project_min_bulletins if short else policy.long_project_min_bulletins
    due_by = bulletin_due_by(ends_on, policy)
    on_time = sum(is_on_time(b, ends_on, policy) for b in bulletins)
    if cancelled:
        status = NOT_APPLICABLE
    elif on_time >= required:
        status = MET
    else:
        status = OVERDUE if as_of > due_by else PENDING
    return BulletinDuty(days, required, None if short else policy.long_project_max_bulletins, due_by,
                        len(bulletins), on_time, status)


def judged(duty: BulletinDuty, as_of: date) -> bool:
    """Whether the ranking counts this duty yet: from the day after its last day on."""
    return duty.status != NOT_APPLICABLE and as_of > duty.due_by
