"""Short of hours and its reminders as pure functions (domain/shortfall.py): Given a policy book
and a teacher's hours / When judged / Then the shortfalls, or the reminders decided (or a refusal)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from services.credits.domain.policies import PolicyBook
from services.credits.domain.policy import Category
from services.credits.domain.shortfall import (
    ANNUAL,
    CATEGORY,
    CYCLE,
    REMINDER,
    Shortfall,
    ShortTeacher,
    decide_reminders,
    reminder_stream,
    school_targets,
    shortfalls,
)
from shared.envelope import NewEvent
from shared.personal import has_national_id
from shared.refusal import Refused
from tests.credits.seeds import JIANGXI_2018, JIANGXI_2021, JIYUAN_2021

CHAIN = ["360102001", "360102", "360100", "360000"]
SPLIT = replace(JIANGXI_2018, version=1,
                categories=(Category("public", "公需科目", D(20)), Category("professional", "专业科目", D(30))))


def test_jiangxi_annual_60_and_the_cycle_share_due_grows_by_60_a_year_to_300():
    book = PolicyBook([JIANGXI_2018])
    due = [school_targets(CHAIN, book, y, date(2024, 6, 1)).cycle_due_tenths for y in range(2018, 2023)]
    assert due == [600, 1200, 1800, 2400, 3000]  # tenths: 60 … 300 hours, the whole cycle in its last year
    t = school_targets(CHAIN, book, 2023, date(2024, 6, 1))
    assert (t.cycle_first, t.cycle_last, t.cycle_target_tenths, t.cycle_due_tenths) == (2023, 2027, 3000, 600)
    assert t.standard.target_tenths == 600


def test_jiyuan_states_only_a_cycle_so_the_annual_target_is_its_pro_rata_share():
    t = school_targets(["419001001", "419001"], PolicyBook([JIYUAN_2021]), 2022, date(2023, 6, 1))
    assert (t.standard.target_tenths, t.cycle_due_tenths, t.cycle_target_tenths) == (720, 1440, 3600)


def test_the_policy_in_force_at_the_years_end_decides_and_a_mid_year_change_applies_from_when_known():
    book = PolicyBook([JIANGXI_2018, JIANGXI_2021])
    before = school_targets(CHAIN, book, 2020, date(2021, 6, 1))
    after = school_targets(CHAIN, book, 2021, date(2022, 6, 1))
    assert (before.standard.target_tenths, after.standard.target_tenths) == (600, 720)
    assert after.policy == JIANGXI_2021 and after.cycle_due_tenths == 2688  # 336 × 4/5 = 268.8


def test_no_policy_up_the_chain_means_no_targets_and_no_shortfall():
    t = school_targets(CHAIN, PolicyBook([]), 2023, date(2024, 6, 1))
    assert t.policy is None and shortfalls(t, 0, {}, 0) == ()


@pytest.mark.parametrize(("year", "by_category", "cycle", "expected"), [
    (600, {"public": 200, "professional": 400}, 600, ()),
    (700, {"professional": 700}, 700, ((CATEGORY, "public", 200, 0),)),  # enough in total, short of one
    (595, {"public": 200, "professional": 395}, 595, ((ANNUAL, None, 600, 595), (CYCLE, None, 600, 595))),
    (0, {}, 0, ((ANNUAL, None, 600, 0), (CYCLE, None, 600, 0), (CATEGORY, "professional", 300, 0),
                (CATEGORY, "public", 200, 0))),
    (600, {"public": 200, "professional": 400, "blended": 100}, 600, ()),  # unmapped hours: no minimum
])
def test_shortfall_per_target(year, by_category, cycle, expected):
    t = school_targets(CHAIN, PolicyBook([SPLIT]), 2023, date(2024, 6, 1))
    got = shortfalls(t, year, by_category, cycle)
    assert [(f.target, f.category, f.required_tenths, f.hours_tenths) for f in got] == list(expected)
    assert all(f.short_tenths > 0 for f in got)


def test_behind_from_earlier_years_shows_as_a_cycle_shortfall_though_this_year_is_met():
    t = school_targets(CHAIN, PolicyBook([JIANGXI_2018]), 2020, date(2021, 6, 1))  # third year: 180 due
    [f] = shortfalls(t, 600, {}, 1500)
    assert (f.target, f.required_tenths, f.hours_tenths, f.short_tenths) == (CYCLE, 1800, 1500, 300)


def _short(teacher_id: str) -> ShortTeacher:
    t = school_targets(CHAIN, PolicyBook([SPLIT]), 2023, date(2024, 6, 1))
    return ShortTeacher(teacher_id, "360102001", t, (Shortfall(CATEGORY, "public", 200, 0),))


def test_reminders_once_per_org_year_and_teacher_with_nothing_personal():
    a, b = "7d3c0f5e-1111-4a4a-9b9b-00000000000a", "7d3c0f5e-1111-4a4a-9b9b-00000000000b"
    decided = decide_reminders([_short(a), _short(b)], org_code="360102", year=2023, current_year=2023,
                               today=date(2024, 6, 1), reminded={reminder_stream("360102", 2023, a)})
    [(stream, [(type_, data)])] = decided
    assert (stream, type_) == (f"reminder-360102-2023-{b}", REMINDER)
    assert data == {"teacher_id": b, "school_year": 2023, "org_code": "360102", "school_code": "360102001",
                    "shortfalls": [{"target": "category", "category": "public", "category_name": "公需科目",
                                    "required_hours": 20, "hours": 0, "short_hours": 20}],
                    "policy": {"jurisdiction_code": "360000", "version": 1, "effective_from": "2018-02-06"},
                    "judged_on": "2024-06-01"}
    NewEvent(type_, data)  # passes the store's personal-data gate
    assert not has_national_id(repr(data))
    # Another org reminds the same teacher once for itself; a later year is a new reminder.
    assert len(decide_reminders([_short(a)], org_code="360100", year=2023, current_year=2023,
                                today=date(2024, 6, 1), reminded={reminder_stream("360102", 2023, a)})) == 1


def test_a_year_that_has_not_begun_has_nothing_to_remind_of():
    with pytest.raises(Refused) as exc:
        decide_reminders([], org_code="360102", year=2024, current_year=2023, today=date(2024, 6, 1), reminded=())
    assert (exc.value.code, exc.value.status) == ("period_not_started", 422)
