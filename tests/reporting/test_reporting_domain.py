"""The reporting rules, pure: rates and their zero denominators, bulletin and close-out obligations
(004 §3.3), the host ranking formula and its tie-breaks, and the policy in force."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from services.reporting.domain.obligations import (
    MET,
    NOT_APPLICABLE,
    OVERDUE,
    PENDING,
    Bulletin,
    Delivery,
    bulletin_duty,
    close_out_due_by,
    close_out_duty,
    delivered_on_time,
    is_on_time,
    judged,
    on_time_count,
)
from services.reporting.domain.policy import DEFAULT, Published, ReportingPolicy, policy_for
from services.reporting.domain.ranking import HostRecord, rank, score
from services.reporting.domain.rates import Figures, ratio, shown

POLICY = ReportingPolicy(effective_from=date.min)


def test_rates_are_exact_strings_and_null_for_a_zero_denominator():
    # Given nothing allocated and nothing nominated / When the figures are shown / Then every rate is null
    empty = Figures().as_json()
    assert {k: empty[k] for k in ("selection_rate", "check_in_rate", "completion_rate", "satisfaction_rate")} == \
        dict.fromkeys(("selection_rate", "check_in_rate", "completion_rate", "satisfaction_rate"))
    assert "NaN" not in json.dumps(empty) and "Infinity" not in json.dumps(empty)
    # Given 6 of 7 places nominated, 4 checked in, 3 completed
    f = Figures(quota=7, nominated=6, checked_in=4, completed=3).as_json()
    assert (f["selection_rate"], f["check_in_rate"], f["completion_rate"]) == ("0.8571", "0.6667", "0.7500")


def test_rounding_is_half_even_at_the_fifth_place():
    assert ratio(1, 8) == "0.1250" and ratio(1, 16) == "0.0625"  # exact
    assert ratio(5, 100000) == "0.0000" and ratio(15, 100000) == "0.0002"  # ties to even
    assert ratio(3, 3) == "1.0000" and ratio(0, 5) == "0.0000" and ratio(1, 0) is None


def test_below_compares_the_exact_fraction_and_never_names_an_undefined_rate():
    f = Figures(quota=5, nominated=4, checked_in=0)
    assert not f.below("selection_rate", Decimal("0.8"))  # 4/5 is exactly the threshold: not below
    assert f.below("selection_rate", Decimal("0.8001"))
    assert not f.below("completion_rate", Decimal("1"))  # 0 checked in: undefined, never below
    # 0.66665 shows as 0.6666 or 0.6667, but the comparison is exact: 2/3 < 0.66667
    assert Figures(quota=3, nominated=2).below("selection_rate", Decimal("0.66667"))


def test_a_short_project_owes_two_bulletins_within_fifteen_days_of_its_end():
    # Given a 10-day project (15–24 July) with issues on 20 July and 8 August (the last day)
    issues = [Bulletin(1, "开班", date(2023, 7, 20), date(2023, 7, 20)), Bulletin(2, "结业", date(2023, 8, 8),
                                                                            date(2023, 8, 8))]
    duty = bulletin_duty(date(2023, 7, 15), date(2023, 7, 24), issues, date(2023, 9, 1), POLICY)
    # Then both are on time and the duty is met
    assert (duty.duration_days, duty.required_min, duty.required_max, duty.due_by) == (10, 2, None, date(2023, 8, 8))
    assert (duty.on_time, duty.status, duty.share) == (2, MET, 1)
    assert close_out_due_by(date(2023, 7, 24), POLICY) == date(2023, 8, 23)


def test_a_long_project_owes_three_and_a_late_issue_does_not_count():
    # Given an 11-day project ending 11 August: due by 26 August; one issue on time, one on 27 August
    issues = [Bulletin(1, "一", date(2023, 8, 5), date(2023, 8, 5)), Bulletin(2, "二", date(2023, 8, 27),
                                                                         date(2023, 8, 27))]
    pending = bulletin_duty(date(2023, 8, 1), date(2023, 8, 11), issues, date(2023, 8, 26), POLICY)
    overdue = bulletin_duty(date(2023, 8, 1), date(2023, 8, 11), issues, date(2023, 8, 27), POLICY)
    assert (pending.required_min, pending.required_max, pending.on_time, pending.delivered) == (3, 5, 1, 2)
    assert (pending.status, overdue.status) == (PENDING, OVERDUE)
    assert not judged(pending, date(2023, 8, 26)) and judged(overdue, date(2023, 8, 27))
    assert overdue.share == Fraction(1, 3)
    cancelled = bulletin_duty(date(2023, 8, 1), date(2023, 8, 11), [], date(2024, 1, 1), POLICY, cancelled=True)
    assert cancelled.status == NOT_APPLICABLE and not judged(cancelled, date(2024, 1, 1))


def test_a_backdated_bulletin_counts_as_late():
    # Issue 20, 004 §3.3: given a 10-day project ending 24 July (due by 8 August) and a bulletin the
    # host dates 1 August but sends on 20 August, when its duty is judged, then it is late.
    backdated = Bulletin(1, "开班", date(2023, 8, 1), received_on=date(2023, 8, 20))
    on_time = Bulletin(2, "结业", date(2023, 8, 8), received_on=date(2023, 8, 8))
    assert not is_on_time(backdated, date(2023, 7, 24), POLICY) and is_on_time(on_time, date(2023, 7, 24), POLICY)
    duty = bulletin_duty(date(2023, 7, 15), date(2023, 7, 24), [backdated, on_time], date(2023, 9, 1), POLICY)
    assert (duty.delivered, duty.on_time, duty.status) == (2, 1, OVERDUE)


def video(count: int, received_on: date, kind: str = "course_video") -> Delivery:
    label = "高品质课程视频资源" if kind == "course_video" else "优秀工作案例"
    return Delivery(kind, label, "课堂实录", count, received_on)


def test_004_3_3_close_out_within_thirty_days_needs_a_course_video_and_the_hosts_case():
    # Given a project ending 24 July 2023 (due 23 August), one course video received on the 23rd
    # and one excellent case of its host on time, When judged, Then met.
    ends = date(2023, 7, 24)
    on_time = [video(1, date(2023, 8, 23)), video(1, date(2023, 8, 1), "case")]
    assert on_time_count(on_time, "case", ends, POLICY) == 1
    duty = close_out_duty(ends, on_time, host_cases_on_time=1, as_of=date(2023, 9, 1), policy=POLICY)
    assert (duty.due_by, duty.delivered, duty.status, duty.share) == (date(2023, 8, 23), 2, MET, 1)
    assert (duty.course_videos.on_time, duty.cases.on_time, duty.cases.required) == (1, 1, 1)
    # Given the video received on 24 August (a day late, whatever date the host states), Then it does
    # not count: overdue once the 30 days are past, pending before.
    late = [video(3, date(2023, 8, 24))]
    assert not delivered_on_time(late[0], ends, POLICY)
    overdue = close_out_duty(ends, late, 1, date(2023, 8, 24), POLICY)
    assert (overdue.course_videos.status, overdue.cases.status, overdue.status) == (OVERDUE, MET, OVERDUE)
    assert overdue.share == Fraction(1, 2) and judged(overdue, date(2023, 8, 24))
    pending = close_out_duty(ends, [], 0, date(2023, 8, 23), POLICY)
    assert pending.status == PENDING and not judged(pending, date(2023, 8, 23))
    # A cancelled project owes nothing.
    assert close_out_duty(ends, [], 0, date(2024, 1, 1), POLICY, cancelled=True).status == NOT_APPLICABLE


def test_004_3_3_the_published_duties_set_the_counts_and_the_days():
    # Given a policy of 40 days, 2 cases per host and 2 videos per sub-project, When 2 videos came on
    # day 40 and the host has 1 case, Then the videos are met and the cases overdue after day 40.
    policy = ReportingPolicy(effective_from=date.min, close_out_days=40, close_out_min_cases=2,
                             close_out_min_course_videos=2)
    duty = close_out_duty(date(2023, 7, 24), [video(2, date(2023, 9, 2))], 1, date(2023, 9, 3), policy)
    assert (duty.course_videos.status, duty.cases.status, duty.share) == (MET, OVERDUE, Fraction(3, 4))


def test_the_close_out_share_counts_in_the_ranking_only_with_a_published_weight():
    # Given two hosts alike but for their close-out, When ranked by the default weights, Then tied on
    # score (host_id decides); When a policy weighs the close-out, Then the one that delivered leads.
    f = Figures(checked_in=4, completed=3)
    a = HostRecord("a", f, (), 1, (Fraction(0),))
    b = HostRecord("b", f, (), 1, (Fraction(1),))
    assert score(a, POLICY) == score(b, POLICY)
    weighed = ReportingPolicy(effective_from=date.min, weight_bulletins=Decimal("0.1"),
                              weight_close_out=Decimal("0.1"))
    ranked = rank([a, b], weighed)
    assert [r.record.host_id for r in ranked] == ["b", "a"] and ranked[0].close_out == 1
    assert score(b, weighed) - score(a, weighed) == Fraction(1, 10)
    assert policy_for("610000", date(2024, 1, 1), [Published("610000", 1, date(2023, 1, 1), {"ranking_weights": {
        "completion": "0.4", "satisfaction": "0.4", "bulletins": "0.1", "close_out": "0.1"}})]).weight_close_out \
        == Decimal("0.1")


def test_the_score_weighs_completion_satisfaction_and_bulletins():
    # Given 3 of 4 completed, 3 of 4 satisfied, all bulletins on time
    h = HostRecord("h1", Figures(checked_in=4, completed=3, evaluations=4, satisfied=3), (Fraction(1),))
    assert score(h, POLICY) == Fraction(8, 10)
    # An undefined term adds nothing: no check-in, no evaluation, one bulletin of two
    empty = HostRecord("h3", Figures(), (Fraction(1, 2),))
    assert shown(score(empty, POLICY)) == "0.1000"


def test_ties_break_by_completion_then_satisfaction_then_bulletins_then_host_id():
    f = Figures(checked_in=10, completed=5, evaluations=10, satisfied=5)
    a = HostRecord("a", f, (Fraction(1, 2),))
    b = HostRecord("b", f, (Fraction(1, 2),))  # identical to a: host_id decides
    c = HostRecord("c", Figures(checked_in=10, completed=7, evaluations=10, satisfied=3), (Fraction(1, 2),))
    d = HostRecord("0", Figures(checked_in=1, completed=0), ())  # lowest score whatever its id
    # a, b and c all score 0.4·0.5 + 0.4·0.5 + 0.2·0.5 = 0.5; c completes more
    assert [score(x, POLICY) for x in (a, b, c)] == [Fraction(1, 2)] * 3
    assert [(r.rank, r.record.host_id) for r in rank([d, b, a, c], POLICY)] == [(1, "c"), (2, "a"), (3, "b"), (4, "0")]
    assert [r.record.host_id for r in rank([a, b, c, d], POLICY)] == ["c", "a", "b", "0"]  # input order is irrelevant


def test_the_policy_in_force_is_the_nearest_published_version_else_the_default():
    # As enrollment publishes them (EnrollmentPolicyPublished): host duties, weights as strings.
    province = Published("610000", 1, date(2025, 1, 1), {
        "bulletin_due_days": 20, "ranking_weights": {"completion": "0.5", "satisfaction": "0.3", "bulletins": "0.2"}})
    corrected = Published("610000", 2, date(2025, 1, 1), {
        "bulletin_due_days": 21, "ranking_weights": {"completion": "0.5", "satisfaction": "0.3", "bulletins": "0.2"}})
    county = Published("610102", 1, date(2025, 6, 1), {"close_out_days": 40})
    book = [province, corrected, county]
    school = policy_for("610102001", date(2025, 3, 1), book)  # a school in Shaanxi, before the county's
    assert (school.bulletin_window_days, school.weight_completion, school.close_out_days) == (21, Decimal("0.5"), 30)
    assert policy_for("610102001", date(2025, 7, 1), book).close_out_days == 40  # the county's, nearest
    assert policy_for("610102", date(2024, 12, 31), book) is DEFAULT  # before any version took effect
    assert policy_for("330106", date(2025, 3, 1), book) is DEFAULT  # another province
    assert policy_for(None, date(2023, 1, 1)).bulletin_window_days == 15
    with pytest.raises(ValueError):
        ReportingPolicy(effective_from=date.min, weight_bulletins=Decimal("0.3"))


def test_reportings_fallback_host_duties_are_the_enrollment_policys_national_default():
    # One home for the numbers: enrollment publishes the host duties (HostDuties); reporting's
    # defaults, used while no version is published, must be the same seed 004 values.
    from services.enrollment.domain.policy import DEFAULT_HOST_DUTIES as published

    assert (DEFAULT.bulletin_window_days, DEFAULT.short_project_max_days, DEFAULT.short_project_min_bulletins,
            DEFAULT.long_project_min_bulletins, DEFAULT.long_project_max_bulletins, DEFAULT.close_out_days,
            DEFAULT.close_out_min_cases, DEFAULT.close_out_min_course_videos,
            (DEFAULT.weight_completion, DEFAULT.weight_satisfaction, DEFAULT.weight_bulletins),
            DEFAULT.weight_close_out) == (
        published.bulletin_due_days, published.short_project_max_days, published.short_project_min_bulletins,
        published.long_project_min_bulletins, published.long_project_max_bulletins, published.close_out_days,
        published.close_out_min_cases, published.close_out_min_course_videos, published.ranking_weights,
        published.close_out_weight)
