"""The eligibility preview's verdicts (issue 15) and the nomination decided by the same checks
(domain/nomination.py: assess_nomination, decide_nomination). Given facts / When judged / Then
verdicts; and, over a table of facts, the nomination refused with exactly the first failing
verdict's code and allowed iff every verdict passes."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, timedelta

from services.enrollment.domain import enrollment as d
from services.enrollment.domain.nomination import (
    RULES,
    Candidate,
    Quota,
    Vacancy,
    Verdict,
    assess_nomination,
    decide_nomination,
)
from services.enrollment.domain.policy import DEFAULT_POLICY
from services.enrollment.domain.selection import NationalHistory
from shared.refusal import Refused

OPENED = date(2023, 7, 1)
TODAY = date(2023, 7, 10)
PROJECT = d.ProjectFacts(project_id="p-1", status="open", level="national", category="c", year=2023, hours=90,
                         hour_category="centralized", host_id="h-1", organizer_code="610000",
                         starts_on=date(2023, 7, 15), ends_on=date(2023, 7, 30), opened_on=OPENED)
CLEAN = Candidate(in_region=True)


def judged(candidate: Candidate = CLEAN, quota: Quota | None = Quota(5, 2), project=PROJECT, today=TODAY,
           policy=DEFAULT_POLICY, vacancy: Vacancy | None = None) -> dict[str, Verdict]:
    verdicts = assess_nomination(region_code="610102", project=project, candidate=candidate, quota=quota,
                                 today=today, policy=policy, vacancy=vacancy)
    assert [v.rule for v in verdicts] == [rule for rule, _ in RULES]  # every rule, in the reported order
    return {v.rule: v for v in verdicts}


def failing(verdicts: dict[str, Verdict]) -> list[tuple[str, str | None]]:
    return [(rule, v.code) for rule, v in verdicts.items() if not v.ok]


def test_a_clean_candidate_passes_every_rule_with_the_figures_it_was_judged_on():
    # Given a clean teacher of the region, an open national project with 3 of 5 places left
    # When judged on day 9 of the window
    v = judged()
    # Then every verdict passes, names its source and shows its figures
    assert failing(v) == []
    assert all(x.code is None for x in v.values())
    assert dict(v["places_left"].facts) == {"places": 5, "used": 2, "left": 3}
    assert v["places_left"].detail == "3 of 5 places left" and v["places_left"].source == "004 §3.1"
    assert v["window"].facts["closes_on"] == OPENED + timedelta(days=20)
    assert v["bar"].facts["until_year"] is None and v["bar"].source == "004 §4.1"
    assert v["already_nominated"].source is None  # a rule of this service, not of the seeds


def test_a_barred_teacher_sees_until_which_year():
    # Given a teacher barred for 2021–2023 and 2022–2024 (two no-shows), and an older bar
    history = NationalHistory(bars=((2019, 2021), (2021, 2023), (2022, 2024)))
    # When judged for a 2023 national project
    v = judged(replace(CLEAN, history=history))
    # Then the bar refuses, until the last year a bar in force holds
    assert failing(v) == [("bar", "barred")] and v["bar"].facts["until_year"] == 2024
    # And for 2025 no bar holds any more
    later = judged(replace(CLEAN, history=history), project=replace(PROJECT, year=2025))
    assert later["bar"].ok and later["bar"].facts["until_year"] is None


def test_each_national_rule_is_judged_on_its_own():
    # Given a teacher who holds a 2023 national place and attended category c
    history = NationalHistory(slot_years=frozenset({2023}), attended_categories=frozenset({"c"}))
    # When judged
    v = judged(replace(CLEAN, history=history))
    # Then both the repeat and the yearly limit refuse (the nomination reports the repeat first)
    assert failing(v) == [("category_repeat", "category_repeat"), ("national_limit", "national_limit")]
    # And a cross-year project continuing cross-year training of c is exempt from the repeat,
    # not from the limit (004 §3.1; issue 20: a single-year c attended is no such training)
    continuing = replace(history, continuing_categories=frozenset({"c"}))
    cross = judged(replace(CLEAN, history=continuing), project=replace(PROJECT, cross_year=True))
    assert failing(cross) == [("national_limit", "national_limit")]
    single = judged(replace(CLEAN, history=history), project=replace(PROJECT, cross_year=True))
    assert failing(single) == [("category_repeat", "category_repeat"), ("national_limit", "national_limit")]


def test_the_national_rules_pass_a_provincial_project_and_say_why():
    history = NationalHistory(slot_years=frozenset({2023}), attended_categories=frozenset({"c"}),
                              bars=((2023, 2025),))
    v = judged(replace(CLEAN, history=history), project=replace(PROJECT, level="provincial"))
    assert failing(v) == []
    assert "do not apply" in v["bar"].detail and v["bar"].facts["until_year"] is None


def test_the_window_closes_after_its_last_day_and_the_verdict_names_it():
    closes = OPENED + timedelta(days=20)
    assert judged(today=closes)["window"].ok
    late = judged(today=closes + timedelta(days=1))
    assert failing(late) == [("window", "window_closed")] and str(closes) in late["window"].detail
    no_window = judged(today=closes + timedelta(days=1), policy=replace(DEFAULT_POLICY, nomination_window_days=None))
    assert no_window["window"].ok and no_window["window"].facts["closes_on"] is None


def test_a_region_without_quota_a_full_quota_an_outsider_a_closed_project_and_a_second_place():
    assert failing(judged(quota=None)) == [("quota", "no_quota"), ("places_left", "no_quota")]
    full = judged(quota=Quota(2, 2))
    assert failing(full) == [("places_left", "quota_exhausted")] and full["places_left"].facts["left"] == 0
    outsider = judged(replace(CLEAN, in_region=False))
    assert failing(outsider) == [("teacher_in_region", "teacher_not_in_region")]
    assert outsider["teacher_in_region"].refusal is not None and outsider["teacher_in_region"].refusal.status == 422
    # Each rule is judged on its own facts: a closed project does not hide the teacher's verdicts
    closed = judged(replace(CLEAN, in_region=False, in_project=True), project=replace(PROJECT, status="approved"))
    assert failing(closed) == [("project_open", "project_not_open"), ("teacher_in_region", "teacher_not_in_region"),
                               ("already_nominated", "already_nominated")]


NO_SHOW = Vacancy("e-0", "p-1", "610102", "no_show", filled=False)


def test_a_substitute_is_judged_on_the_vacancy_not_the_window_nor_the_places_left():
    # Given a no-show's place in a started project, past the window, with the quota used up
    late, started = OPENED + timedelta(days=30), replace(PROJECT, status="started")
    # When a substitute is judged for it
    v = judged(quota=Quota(2, 2), project=started, today=late, vacancy=NO_SHOW)
    # Then it passes, and says why the window and the places left do not hold it back
    assert failing(v) == [] and v["vacancy"].facts["substitute_for"] == "e-0"
    assert "substitute" in v["window"].detail and "substitute" in v["places_left"].detail
    # And a vacancy already filled, or one that is no no-show of this project and region, refuses
    assert failing(judged(vacancy=replace(NO_SHOW, filled=True))) == [("vacancy", "vacancy_filled")]
    assert failing(judged(vacancy=replace(NO_SHOW, status="completed"))) == [("vacancy", "not_a_vacancy")]
    # While an ordinary nomination of that day is refused by the window and the places
    assert failing(judged(quota=Quota(2, 2), project=PROJECT, today=late)) == [
        ("window", "window_closed"), ("places_left", "quota_exhausted")]


# The nomination and the preview agree ------------------------------------------------------

HISTORIES = [NationalHistory(), NationalHistory(bars=((2022, 2024),)), NationalHistory(bars=((2019, 2021),)),
             NationalHistory(attended_categories=frozenset({"c"})), NationalHistory(slot_years=frozenset({2023})),
             NationalHistory(slot_years=frozenset({2023}), attended_categories=frozenset({"c"}),
                             bars=((2023, 2025),))]
TABLE = list(itertools.product(
    ("open", "approved", "started"), ("national", "provincial"), (False, True),  # status, level, cross-year
    (True, False), (None, Quota(2, 0), Quota(1, 1)), (TODAY, OPENED + timedelta(days=21)),  # region, quota, day
    HISTORIES, (False, True),  # the teacher's national record, already in the project
    (None, NO_SHOW, replace(NO_SHOW, filled=True), replace(NO_SHOW, region_code="610103"))))  # a substitute's


def disagreement(row) -> str | None:
    status, level, cross_year, in_region, quota, today, history, in_project, vacancy = row
    project = replace(PROJECT, status=status, level=level, cross_year=cross_year)
    candidate = Candidate(in_region=in_region, history=history, in_project=in_project)
    verdicts = assess_nomination(region_code="610102", project=project, candidate=candidate, quota=quota,
                                 today=today, vacancy=vacancy)
    failed = [v for v in verdicts if not v.ok]
    try:
        events = decide_nomination(d.INITIAL, enrollment_id="e-1", teacher_id="t-1", region_code="610102",
                                   project=project, candidate=candidate, quota=quota, today=today, vacancy=vacancy)
    except Refused as refusal:
        if not failed:
            return f"refused {refusal.code} though every verdict passed"
        first = failed[0].refusal
        assert first is not None
        if (refusal.code, refusal.status) != (first.code, first.status):
            return f"refused {refusal.code} ({refusal.status}), first failing verdict {first.code} ({first.status})"
        return None
    if failed or [t for t, _ in events] != ["TeacherNominated"]:
        return f"nominated though {[v.code for v in failed]} failed"
    return None


def test_the_nomination_refuses_with_the_first_failing_verdict_and_succeeds_iff_all_pass():
    # Given each row of facts / When the preview judges it and the nomination decides it
    wrong = [f"{row}: {why}" for row in TABLE if (why := disagreement(row)) is not None]
    # Then they agree on every row
    assert not wrong, f"{len(wrong)} of {len(TABLE)} rows disagree:\n" + "\n".join(wrong[:10])


def test_the_table_reaches_every_refusal_and_success():
    """The agreement above is only as good as its table: every rule fails first somewhere."""
    firsts = set()
    for status, level, cross_year, in_region, quota, today, history, in_project, vacancy in TABLE:
        verdicts = assess_nomination(
            region_code="610102", project=replace(PROJECT, status=status, level=level, cross_year=cross_year),
            candidate=Candidate(in_region, history, in_project), quota=quota, today=today, vacancy=vacancy)
        firsts.add(next((v.code for v in verdicts if not v.ok), "nominated"))
    assert firsts == {"project_not_open", "teacher_not_in_region", "no_quota", "window_closed", "barred",
                      "category_repeat", "national_limit", "already_nominated", "quota_exhausted", "nominated",
                      "not_a_vacancy", "vacancy_filled"}
