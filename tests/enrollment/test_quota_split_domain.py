"""004 §2.2 (places allocated to cities, which allocate them to their counties): a city's split of
its own quota, decided purely on the two quota rows and the county's place in the tree
(domain/quota_split.py); the nomination check on what a city kept (domain/nomination.py); and
004 §3.3's close-out materials as recorded (domain/close_out.py).
Given events and facts / When command / Then events or refusal."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.enrollment.domain.close_out import KINDS, decide_deliver_close_out
from services.enrollment.domain.nomination import Quota, check_places_left
from services.enrollment.domain.project import ProjectState, evolve
from services.enrollment.domain.project_refs import decide_quota
from services.enrollment.domain.quota_split import SplitFacts, decide_split
from shared.refusal import Refused

DRAFTED = ("ProjectDrafted", {
    "project_id": "p-1", "code": "GP-1", "name": "国培", "level": "provincial", "category": "c", "year": 2023,
    "host_id": "h-1", "organizer_code": "610000", "hours": 90, "hour_category": "centralized",
    "starts_on": "2023-07-15", "ends_on": "2023-07-24", "practical_ratio": 0.5})
# The city 610100 holds 10 places, uses 1 itself and gave 4 to 610102; 610103 has none yet.
FACTS = SplitFacts(city_places=10, city_used=1, city_split=4, county_kind="county", county_parent="610100",
                   county_places=None, county_used=0, county_split_from=None)


def given(*events: tuple[str, dict]) -> ProjectState:
    state = ProjectState()
    for type_, data in (DRAFTED, *events):
        state = evolve(state, type_, data)
    return state


def refused(code: str, fn, *args) -> None:
    with pytest.raises(Refused) as info:
        fn(*args)
    assert info.value.code == code, info.value


def test_004_2_2_a_city_gives_a_county_places_out_of_what_it_has_left():
    # Given a city with 10 places, 1 used by its own nomination and 4 given to another county
    # When it gives 610103 the 5 left, Then QuotaSplit; one more is over the split.
    assert decide_split(given(), "610100", "610103", 5, FACTS) == [
        ("QuotaSplit", {"project_id": "p-1", "city_code": "610100", "region_code": "610103", "places": 5})]
    refused("over_split", decide_split, given(), "610100", "610103", 6, FACTS)


def test_004_2_2_setting_a_countys_split_again_moves_its_own_places_back_first():
    # Given 610102 holds the 4 the city gave it, When set to 9 (4 back, 9 out: 1 + 9 = 10), Then allowed.
    mine = replace(FACTS, county_places=4, county_split_from="610100")
    assert decide_split(given(), "610100", "610102", 9, mine)[0][1]["places"] == 9
    refused("over_split", decide_split, given(), "610100", "610102", 10, mine)
    # Never below what the county's nominations already use.
    refused("quota_below_used", decide_split, given(), "610100", "610102", 1, replace(mine, county_used=2))


@pytest.mark.parametrize(("facts", "code"), [
    (replace(FACTS, city_places=None), "no_quota"),  # the city holds no places to split
    (replace(FACTS, county_kind=None, county_parent=None), "region_not_found"),
    (replace(FACTS, county_parent="610200"), "region_not_under_city"),  # another city's county
    (replace(FACTS, county_kind="school", county_parent="610100"), "region_not_under_city"),
    (replace(FACTS, county_places=2, county_split_from=None), "quota_source_conflict"),  # the organizer's places
])
def test_004_2_2_only_a_city_with_places_splits_and_only_to_its_own_counties(facts, code):
    refused(code, decide_split, given(), "610100", "610103", 1, facts)


def test_a_split_needs_a_live_project_and_a_figure_of_zero_or_more():
    closed = given(("ProjectClosed", {"project_id": "p-1", "on": "2023-07-24"}))
    refused("project_inactive", decide_split, closed, "610100", "610103", 1, FACTS)
    refused("bad_places", decide_split, given(), "610100", "610103", -1, FACTS)
    refused("project_not_found", decide_split, ProjectState(), "610100", "610103", 1, FACTS)


def test_004_2_2_the_organizer_keeps_a_city_above_its_used_and_split_places_and_off_its_counties():
    # Given the city uses 1 and gave 4, When the organizer sets it to 4, Then refused; 5 is fine.
    refused("quota_below_used", decide_quota, given(), "610100", "city", 4, 1, 4)
    assert decide_quota(given(), "610100", "city", 5, 1, 4)[0][0] == "QuotaAllocated"
    refused("quota_source_conflict", decide_quota, given(), "610102", "county", 3, 0, 0, "610100")


def test_004_2_2_a_city_nominates_only_on_the_places_it_did_not_give_away():
    # Given 10 places, 4 given to counties, 5 used: 1 left; When 6 are used, Then none left.
    assert Quota(10, 5, 4).left == 1
    check_places_left(Quota(10, 5, 4), "610100")
    refused("quota_exhausted", check_places_left, Quota(10, 6, 4), "610100")


def test_004_3_3_close_out_materials_are_recorded_with_the_servers_day_of_receipt():
    started = given(("ProjectStarted", {"project_id": "p-1", "on": "2023-07-15"}))
    [(type_, data)] = decide_deliver_close_out(started, "m-1", "course_video", " 课堂实录 ", 3, " https://x/v ",
                                               date(2023, 8, 2))
    assert (type_, data) == ("CloseOutMaterialDelivered", {
        "project_id": "p-1", "material_id": "m-1", "kind": "course_video", "kind_label": "高品质课程视频资源",
        "title": "课堂实录", "count": 3, "reference": "https://x/v", "received_on": "2023-08-02"})
    assert {"summary", "case", "course_video", "failed_list"} <= set(KINDS) and KINDS["case"] == "优秀工作案例"
    refused("project_not_started", decide_deliver_close_out, given(), "m-2", "case", "案例", 1, None, date(2023, 8, 2))
    refused("bad_material_kind", decide_deliver_close_out, started, "m-2", "poem", "诗", 1, None, date(2023, 8, 2))
    refused("bad_material", decide_deliver_close_out, started, "m-2", "case", " ", 1, None, date(2023, 8, 2))
    refused("bad_material", decide_deliver_close_out, started, "m-2", "case", "案例", 0, None, date(2023, 8, 2))
