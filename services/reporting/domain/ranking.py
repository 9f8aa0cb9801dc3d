"""Host ranking (004 §4.2 "根据绩效评估情况对项目执行单位进行综合排名").

For one year, each host's score is

    score = w_c · completion rate + w_s · satisfaction rate + w_b · bulletin share + w_o · close-out share

with the weights of the policy in force (default 0.4 / 0.4 / 0.2, domain/policy.py):
- completion rate: completed ÷ checked in, over all the host's projects of the year;
- satisfaction rate: satisfied ÷ evaluations, likewise;
- bulletin share: the mean, over the host's projects whose bulletin deadline has passed, of
  min(on-time issues, issues owed) ÷ issues owed (domain/obligations.py);
- close-out share (issue 20, 004 §3.3): the mean, over the host's projects whose close-out
  deadline has passed, of the project's close-out share (course videos and the host's cases on
  time, each capped at what is owed, obligations.CloseOutDuty.share). Its weight w_o is 0 unless
  a policy publishes one, so by default the ranking is the three terms above.
A term that is undefined (nothing checked in, no evaluation, no project judged yet) adds 0:
no evidence earns no points. Terms and scores are exact fractions; the score is shown with
4 places (ROUND_HALF_EVEN). Order: score descending; exact ties by completion rate, then
satisfaction rate, then bulletin share, then close-out share (each descending, undefined as 0), then host_id
ascending — so the order is total and the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .policy import ReportingPolicy
from .rates import Figures


@dataclass(frozen=True)
class HostRecord:
    host_id: str
    figures: Figures  # summed over the host's projects of the year
    bulletin_shares: tuple[Fraction, ...] = ()  # one per project judged on bulletins
    projects: int = 0
    close_out_shares: tuple[Fraction, ...] = ()  # one per project judged on its close-out


@dataclass(frozen=True)
class Ranked:
    rank: int
    record: HostRecord
    completion: Fraction | None
    satisfaction: Fraction | None
    bulletins: Fraction | None
    close_out: Fraction | None
    score: Fraction


def _share(num: int, den: int) -> Fraction | None:
    return None if den <= 0 else Fraction(num, den)


def _mean(shares: tuple[Fraction, ...]) -> Fraction | None:
    return sum(shares, Fraction(0)) / len(shares) if shares else None


def terms(record: HostRecord) -> tuple[Fraction | None, Fraction | None, Fraction | None, Fraction | None]:
    f = record.figures
    return (_share(f.completed, f.checked_in), _share(f.satisfied, f.evaluations), _mean(record.bulletin_shares),
            _mean(record.close_out_shares))


def score(record: HostRecord, policy: ReportingPolicy) -> Fraction:
    """A host's composite score (综合排名, 004 §4.2): completion, satisfaction, bulletins and
    close-out materials on time, weighted by the policy; a term without data scores 0."""
    weights = (policy.weight_completion, policy.weight_satisfaction, policy.weight_bulletins, policy.weight_close_out)
    return sum((Fraction(w) * (t or 0) for w, t in zip(weights, terms(record), strict=True)), Fraction(0))


def rank(records: list[HostRecord], policy: ReportingPolicy) -> list[Ranked]:
    def key(r: HostRecord) -> tuple[Fraction | int | str, ...]:
        return (-score(r, policy), *(-(t or 0) for t in terms(r)), r.host_id)

    return [Ranked(i, r, *terms(r), score(r, policy)) for i, r in enumerate(sorted(records, key=key), start=1)]
