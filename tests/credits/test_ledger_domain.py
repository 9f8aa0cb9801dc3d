"""The ledger's arithmetic, pure: Given entries and policy versions / When the transcript is taken
as of a date / Then exact hours, credits, targets and compliance.

Jiangxi (seed 001 §2.3) and Jiyuan (seed 003 §4.3) are the real policies; JIANGXI_2021 changes
the rules in the middle of the 2018—2022 cycle.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from services.credits.domain.ledger import Entry, Ledger
from services.credits.domain.policies import PolicyBook
from services.credits.domain.policy import Category, Policy
from tests.credits.seeds import JIANGXI_2018, JIANGXI_2021, JIYUAN_2021

JX_SCHOOL = ["360102001", "360102", "360100", "360000"]
JY_SCHOOL = ["419001001", "419001", "410000"]
T = "7d3c0f5e-1111-4a4a-9b9b-000000000001"


def entry(eid: str, hours: str, category: str, earned: date, year: int, recorded: date | None = None,
          revoked: date | None = None, kind: str = "award") -> Entry:
    reason = "错误" if revoked else None
    return Entry(eid, T, kind, D(hours), category, earned, year, recorded or earned, revoked, reason)


JX_ENTRIES = [
    entry("a1", "50", "centralized", date(2019, 10, 10), 2019),
    entry("a2", "30", "online", date(2020, 5, 1), 2019),
    entry("a3", "60", "centralized", date(2021, 10, 1), 2021),
    entry("c1", "15", "workshop", date(2022, 3, 1), 2021, recorded=date(2022, 3, 10), kind="claim"),
]


def jiangxi(as_of: date, entries=JX_ENTRIES) -> Ledger:
    return Ledger(entries, PolicyBook([JIANGXI_2018, JIANGXI_2021]), JX_SCHOOL, date(2010, 9, 1), as_of)


def test_jiangxi_years_credits_and_a_policy_change_in_mid_cycle():
    ledger = jiangxi(date(2022, 6, 30))
    years = {y.start_year: y for y in ledger.years()}
    assert sorted(years) == [2018, 2019, 2020, 2021]  # the running cycle up to the current school year
    y2019, y2020, y2021 = years[2019], years[2020], years[2021]
    # 2019学年 under the 2018 rules: 80 h, 80 / 20 = 4.0 credits, 60 h a year.
    assert (y2019.hours, y2019.credits, y2019.target, y2019.met) == (D("80.0"), D("4.0"), D(60), True)
    assert y2019.label == "2019学年" and y2019.progress == D("1.3333")
    # 2020学年 ends 2021-08-31, before the change takes effect: still 60 h, and nothing earned.
    assert (y2020.hours, y2020.credits, y2020.target, y2020.met) == (D("0.0"), D(0), D(60), False)
    # 2021学年 under the new rules: 75 h, 75 / 24 = 3.125 → 3.1 (rounded down), target 72 h.
    assert (y2021.hours, y2021.credits, y2021.target, y2021.met) == (D("75.0"), D("3.1"), D(72), True)
    assert {c.category: c.hours for c in y2021.categories} == {"centralized": D(60), "workshop": D(15)}
    cycle = ledger.cycle()
    assert (cycle.start_year, cycle.end_year, cycle.label) == (2018, 2022, "2018—2022周期")
    assert (cycle.hours, cycle.credits, cycle.target, cycle.progress, cycle.met) == (
        D("155.0"), D("7.1"), D(336), D("0.4613"), False)
    assert ledger.induction() is None  # hired in 2010


def test_credits_are_converted_per_school_year_not_per_entry():
    # Two 25-hour awards in different years: 1.2 + 1.2 credits (rounded down each year), not 50 / 20.
    entries = [entry("x1", "25", "online", date(2019, 10, 1), 2019),
               entry("x2", "25", "online", date(2020, 10, 1), 2020)]
    ledger = jiangxi(date(2021, 6, 30), entries)
    assert [y.credits for y in ledger.years() if y.hours] == [D("1.2"), D("1.2")]
    assert ledger.cycle().credits == D("2.4")


def test_as_of_sees_only_what_was_recorded_and_published_by_then():
    # On 2021-06-30 the 2021 change was not yet published and a3, c1 not yet recorded.
    before = jiangxi(date(2021, 6, 30))
    assert before.current_year == 2020 and [ln.entry.entry_id for ln in before.lines()] == ["a1", "a2"]
    assert (before.cycle().hours, before.cycle().target, before.cycle().progress) == (D(80), D(300), D("0.2666"))
    # Published on 2021-07-01 but in force only from 2021-09-01: on 2021-08-01 the old rules still apply.
    published = jiangxi(date(2021, 8, 1))
    assert published.policy == JIANGXI_2018 and published.cycle().target == D(300)
    assert jiangxi(date(2021, 9, 1)).cycle().target == D(336)


def test_a_revoked_entry_stays_on_the_ledger_with_its_revocation_line():
    entries = [*JX_ENTRIES[1:], entry("a1", "50", "centralized", date(2019, 10, 10), 2019, revoked=date(2022, 5, 1))]
    after = jiangxi(date(2022, 6, 30), entries)
    lines = [(ln.kind, ln.entry.entry_id, ln.hours, ln.status) for ln in after.lines()]
    assert ("entry", "a1", D(50), "revoked") in lines and ("revocation", "a1", D(-50), "revoked") in lines
    y2019 = after.year(2019)
    assert (y2019.hours, y2019.credits, y2019.met) == (D(30), D("1.5"), False)
    # The day before the revocation the entry still counted.
    before = jiangxi(date(2022, 4, 30), entries)
    assert before.year(2019).hours == D(80) and all(ln.kind == "entry" for ln in before.lines())


def jiyuan(as_of: date, entries) -> Ledger:
    return Ledger(entries, PolicyBook([JIYUAN_2021]), JY_SCHOOL, date(2022, 9, 1), as_of)


JY_ENTRIES = [
    entry("j1", "90", "centralized", date(2022, 10, 20), 2022),
    entry("j2", "40", "workshop", date(2023, 3, 15), 2022, kind="claim"),  # 工作坊研修 counts (003 §4.3)
]


def test_jiyuan_cycle_and_induction_of_a_new_teacher():
    ledger = jiyuan(date(2023, 6, 30), JY_ENTRIES)
    cycle = ledger.cycle()
    assert (cycle.start_year, cycle.end_year, cycle.hours, cycle.target, cycle.progress, cycle.credits) == (
        2021, 2025, D(130), D(360), D("0.3611"), None)  # Jiyuan converts no credits
    induction = ledger.induction()
    assert (induction.hours, induction.target, induction.met, induction.window_ends_on) == (
        D(130), D(120), True, date(2023, 9, 1))
    # No annual target in the seed: the yardstick is 360 / 5 = 72 h a year, marked as pro rata.
    y2022 = ledger.year(2022)
    assert (y2022.target, y2022.target_basis, y2022.met) == (D(72), "pro_rata_cycle", True)


def test_induction_progress_before_and_after_the_window():
    during = jiyuan(date(2022, 12, 31), JY_ENTRIES).induction()
    assert (during.hours, during.met, during.progress) == (D(90), False, D("0.75"))
    assert jiyuan(date(2023, 9, 1), JY_ENTRIES).induction() is None  # no longer a new teacher


def test_the_nearest_jurisdiction_with_a_policy_in_force_wins():
    county = Policy(jurisdiction_code="360102", effective_from=date(2022, 9, 1), cycle_years=5, cycle_start_year=2018,
                    hours_per_credit=D(10), annual_hours=D(90), published_on=date(2022, 8, 1))
    book = PolicyBook([JIANGXI_2018, county])
    assert book.for_chain(JX_SCHOOL, date(2022, 9, 1)) == county
    assert book.for_chain(JX_SCHOOL, date(2022, 8, 31)) == JIANGXI_2018  # before the county's own takes effect


def test_category_minimums_are_part_of_annual_compliance():
    split = Policy(jurisdiction_code="360000", effective_from=date(2018, 1, 1), cycle_years=5, cycle_start_year=2018,
                   annual_hours=D(90), categories=(Category("public", "公需", D(10)),
                                                   Category("professional", "专业", D(30)),
                                                   Category("elective", "选修")))
    entries = [entry("p1", "5", "public", date(2019, 10, 1), 2019), entry("p2", "90", "professional",
                                                                         date(2019, 11, 1), 2019)]
    y = Ledger(entries, PolicyBook([split]), JX_SCHOOL, None, date(2020, 6, 1)).year(2019)
    assert y.hours == D(95) and y.hours >= y.target and y.met is False
    assert {c.category: c.met for c in y.categories} == {"public": False, "professional": True, "elective": None}
