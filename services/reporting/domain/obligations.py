"""A host's obligations after a project (004 §3.3), judged on a given day (`as_of`).

- Work bulletins (工作简报): the project's length in days is ends_on − starts_on + 1; a project of
  at most `short_project_max_days` (10) days owes at least 2 issues, a longer one 3 (up to 5).
  An issue counts as on time when published on or before ends_on + `bulletin_window_days` (15);
  issues published while the training runs count too. The duty is `met` once enough on-time
  issues exist, `overdue` when its last day has passed without that, `pending` before.
- Close-out materials (总结材料, among them the failed learners' list 考核不合格学员名单) are due
  within `close_out_days` (30) of the end: "培训结束30天内…报送…总结材料…其中每个单位至少报送1个
  优秀工作案例,每一子项目需报送不少于1门高品质课程视频资源". Enrollment records each delivery with the
  day it received it (CloseOutMaterialDelivered); a delivery is on time when received on or
  before ends_on + close_out_days. Two counts are judged, with the host duties' figures:
  course videos per sub-project (each project here is one 子项目: its own code, host and dates),
  `close_out_min_course_videos`, counted over the project's own on-time deliveries; and excellent
  cases per unit (每个单位: the host), `close_out_min_cases`, counted over the host's on-time
  deliveries for all its projects of the year. Other kinds are listed, not counted: the duties
  publish no figure for them. Each count is `met`, `pending` or `overdue` as a bulletin duty is.
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


def judged(duty: BulletinDuty | CloseOutDuty, as_of: date) -> bool:
    """Whether the ranking counts this duty yet: from the day after its last day on."""
    return duty.status != NOT_APPLICABLE and as_of > duty.due_by


CASE, COURSE_VIDEO = "case", "course_video"  # the kinds the host duties count (enrollment's codes)


@dataclass(frozen=True)
class Delivery:
    """Close-out materials as enrollment recorded them (CloseOutMaterialDelivered)."""

    kind: str
    kind_label: str
    title: str
    count: int
    received_on: date  # the day enrollment received them: what the deadline is judged on
    reference: str | None = None


@dataclass(frozen=True)
class Count:
    """One counted requirement of the close-out: how many owed, how many on time, its status."""

    required: int
    on_time: int
    status: str

    @property
    def share(self) -> Fraction:
        """On time as a share of what is owed, capped at 1; nothing owed is fully met."""
        return Fraction(1) if self.required <= 0 else Fraction(min(self.on_time, self.required), self.required)


@dataclass(frozen=True)
class CloseOutDuty:
    due_by: date
    delivered: int  # deliveries recorded, on time or not
    course_videos: Count  # per sub-project: this project's
    cases: Count  # per unit: the host's, over its projects of the year
    status: str

    @property
    def share(self) -> Fraction:
        """The ranking's close-out term for this project: the mean of its two counts' shares."""
        return (self.course_videos.share + self.cases.share) / 2


def delivered_on_time(delivery: Delivery, ends_on: date, policy: ReportingPolicy) -> bool:
    """Within the close-out's days ("培训结束30天内", close_out_duty): judged on the day enrollment
    received it, never a stated date."""
    return delivery.received_on <= close_out_due_by(ends_on, policy)


def on_time_count(deliveries: list[Delivery], kind: str, ends_on: date, policy: ReportingPolicy) -> int:
    """Items of `kind` delivered on time for a project that ended on `ends_on`."""
    return sum(d.count for d in deliveries if d.kind == kind and delivered_on_time(d, ends_on, policy))


def _count(required: int, on_time: int, due_by: date, as_of: date, cancelled: bool) -> Count:
    if cancelled:
        return Count(required, on_time, NOT_APPLICABLE)
    if on_time >= required:
        return Count(required, on_time, MET)
    return Count(required, on_time, OVERDUE if as_of > due_by else PENDING)


def close_out_duty(ends_on: date, deliveries: list[Delivery], host_cases_on_time: int, as_of: date,
                   policy: ReportingPolicy, cancelled: bool = False) -> CloseOutDuty:
    """A project's close-out (004 §3.3): at least `close_out_min_course_videos` course videos of
    its own and, for its host, at least `close_out_min_cases` excellent cases over the host's
    projects of the year (`host_cases_on_time`, each judged by on_time_count against its own
    project's end), delivered within `close_out_days` of the end; met, pending or overdue."""
    due_by = close_out_due_by(ends_on, policy)
    videos = _count(policy.close_out_min_course_videos, on_time_count(deliveries, COURSE_VIDEO, ends_on, policy),
                    due_by, as_of, cancelled)
    cases = _count(policy.close_out_min_cases, host_cases_on_time, due_by, as_of, cancelled)
    statuses = {videos.status, cases.status}
    status = next(s for s in (NOT_APPLICABLE, OVERDUE, PENDING, MET) if s in statuses)
    return CloseOutDuty(due_by, len(deliveries), videos, cases, status)
