"""Getting a teacher into a project on the real app (PostgreSQL + NATS): nomination (报送), replacement
(换人) and withdrawal — every success, refusal code, bad input, wrong role and scope, and that a
refused or invalid command writes nothing.
"""

from __future__ import annotations

import uuid

import pytest

from tests.enrollment import seed
from tests.enrollment.seed import (
    CAT,
    CITY,
    COUNTY,
    COUNTY2,
    SCHOOL2,
    advance,
    checked_in_enrollment,
    enrolled,
    n_events,
    nominate,
    refused,
    seed_project,
    seed_teacher,
    teacher,
    used,
)

host, county, hostc = seed.host, seed.county, seed.hostc  # this module's own instances


# Nomination ---------------------------------------------------------------------------------

async def test_nominate_records_the_event_the_row_the_quota_and_the_national_slot(epool, county, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    r = await nominate(county, pid, tid)
    assert r.status_code == 201 and r.headers["ETag"] == '"1"'
    eid = r.json()["enrollment_id"]
    assert r.headers["Location"] == f"/v1/enrollments/{eid}"
    data = await epool.fetchval("SELECT data FROM events WHERE stream_id = $1", f"enrollment-{eid}")
    assert data == {"enrollment_id": eid, "project_id": pid, "teacher_id": tid, "region_code": COUNTY,
                    "level": "national", "category": CAT, "year": 2023, "nominated_on": data["nominated_on"],
                    "policy": "default"}
    assert await epool.fetchval("SELECT status FROM enrollments WHERE id = $1", uuid.UUID(eid)) == "nominated"
    assert await used(epool, pid) == 1
    assert await epool.fetchval("SELECT year FROM national_slots WHERE enrollment_id = $1", uuid.UUID(eid)) == 2023


async def test_a_city_admin_nominates_for_a_county_in_its_city(epool, as_role, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    assert (await nominate(as_role("city_admin", CITY), pid, tid)).status_code == 201


async def test_nomination_refusals_write_nothing(epool, county, host):
    open_, approved = await seed_project(epool, host), await seed_project(epool, host, status="approved")
    elsewhere = await seed_project(epool, host, quotas={COUNTY2: 3})
    full = await seed_project(epool, host, level="provincial", quotas={COUNTY: 1})
    tid, other_region = await seed_teacher(epool), await seed_teacher(epool, SCHOOL2)
    assert (await nominate(county, full, await seed_teacher(epool))).status_code == 201
    before = await n_events(epool)
    refused(await nominate(county, approved, tid), 409, "project_not_open")
    refused(await nominate(county, open_, other_region), 422, "teacher_not_in_region")
    refused(await nominate(county, elsewhere, tid), 409, "no_quota")
    refused(await nominate(county, full, tid), 409, "quota_exhausted")
    assert await n_events(epool) == before and await used(epool, full) == 1 and await used(epool, open_) == 0


async def test_already_nominated_in_the_same_project_even_when_the_quota_is_full(epool, county, host):
    pid, tid = await seed_project(epool, host, level="provincial", quotas={COUNTY: 1}), await seed_teacher(epool)
    await enrolled(county, pid, tid)
    before = await n_events(epool)
    refused(await nominate(county, pid, tid), 409, "already_nominated")
    assert await n_events(epool) == before and await used(epool, pid) == 1


async def test_one_national_project_per_teacher_per_year(epool, county, host):
    a, b = await seed_project(epool, host), await seed_project(epool, host, category="其他类别")
    next_year = await seed_project(epool, host, year=2024, category="其他类别")
    provincial = await seed_project(epool, host, level="provincial")
    tid = await seed_teacher(epool)
    await enrolled(county, a, tid)
    refused(await nominate(county, b, tid), 409, "national_limit")
    assert await used(epool, b) == 0
    assert (await nominate(county, next_year, tid)).status_code == 201
    assert (await nominate(county, provincial, tid)).status_code == 201


async def test_category_repeat_after_attending_and_the_cross_year_exemption(epool, as_role, county, host):
    _, tid, _ = await checked_in_enrollment(epool, as_role, county, host)
    assert await epool.fetchval("SELECT category FROM national_attended WHERE teacher_id = $1",
                                uuid.UUID(tid)) == CAT
    same_cat = await seed_project(epool, host, year=2024)
    refused(await nominate(county, same_cat, tid), 409, "category_repeat")
    # 004 §3.1 read narrowly (issue 20): a cross-year project of the category attended in a
    # single-year project is a repeat too; nothing is written.
    cross_year = await seed_project(epool, host, year=2024, cross_year=True, ends_on="2025-06-30")
    before = await n_events(epool)
    refused(await nominate(county, cross_year, tid), 409, "category_repeat")
    assert await n_events(epool) == before


async def test_a_cross_year_phase_continues_cross_year_training_of_the_category(epool, as_role, county, host):
    # Given a teacher who checked in to a 2023–2024 cross-year national project of CAT
    first = await seed_project(epool, host, cross_year=True, ends_on="2024-06-30")
    tid = await seed_teacher(epool)
    eid = await enrolled(county, first, tid)
    assert (await teacher(as_role, tid).post(f"/v1/enrollments/{eid}/check-in")).status_code == 200
    assert await epool.fetchval("SELECT cross_year FROM national_attended WHERE teacher_id = $1", uuid.UUID(tid))
    # When nominated to the category's next cross-year phase (2025–2026), Then it is no repeat
    assert (await nominate(county, await seed_project(epool, host, year=2025, cross_year=True, ends_on="2026-06-30"),
                           tid)).status_code == 201
    # But a single-year project of CAT is one (2027: no slot held that year)
    refused(await nominate(county, await seed_project(epool, host, year=2027), tid), 409, "category_repeat")


async def test_a_cross_year_place_holds_every_year_it_spans_until_withdrawn_or_replaced(epool, county, host):
    # Given a teacher on a 2023–2024 cross-year national project (004 §3.1 "年度内…不超过1项")
    cross = await seed_project(epool, host, cross_year=True, ends_on="2024-06-30", category="跨年度研修")
    tid, other = await seed_teacher(epool), await seed_teacher(epool)
    eid = await enrolled(county, cross, tid)
    slots = "SELECT array_agg(year ORDER BY year) FROM national_slots WHERE teacher_id = $1"
    assert await epool.fetchval(slots, uuid.UUID(tid)) == [2023, 2024]
    # When nominated to another national project of 2024, Then national_limit, and nothing is written
    in_2024 = await seed_project(epool, host, year=2024, category="其他类别")
    before = await n_events(epool)
    refused(await nominate(county, in_2024, tid), 409, "national_limit")
    assert await n_events(epool) == before
    # A replacement (换人) moves both years to the new teacher, who then cannot take 2024 either
    assert (await county.post(f"/v1/enrollments/{eid}/replace", json={"teacher_id": other})).status_code == 200
    assert (await epool.fetchval(slots, uuid.UUID(tid)), await epool.fetchval(slots, uuid.UUID(other))) == (
        None, [2023, 2024])
    refused(await nominate(county, in_2024, other), 409, "national_limit")
    assert (await nominate(county, in_2024, tid)).status_code == 201  # the first teacher is free again
    # A withdrawal frees both years
    assert (await county.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "工作调动"})).status_code == 200
    assert await epool.fetchval(slots, uuid.UUID(other)) is None
    assert (await nominate(county, in_2024, other)).status_code == 201


async def test_the_nominating_county_records_a_no_show_after_close_which_bars_the_next_three_years_until_excused(
        epool, as_role, county, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    await advance(epool, pid, "started")
    await advance(epool, pid, "closed")
    # Another county may neither record nor excuse it.
    other = as_role("county_admin", COUNTY2)
    refused(await other.post(f"/v1/enrollments/{eid}/no-show", json={"special_reason": False}), 403, "out_of_scope")
    r = await county.post(f"/v1/enrollments/{eid}/no-show", json={"special_reason": False})
    assert r.status_code == 200 and r.json()["status"] == "no_show", r.text
    ev = await epool.fetchrow("SELECT data, metadata FROM events WHERE stream_id = $1 AND type = 'NoShowRecorded'",
                              f"enrollment-{eid}")
    assert (ev["data"]["barred_from_year"], ev["data"]["barred_until_year"]) == (2024, 2026)
    assert ev["metadata"]["actor"]["org"] == COUNTY  # audited: who recorded it
    for year in (2024, 2025, 2026):
        refused(await nominate(county, await seed_project(epool, host, year=year, category=f"c{year}"), tid),
                409, "barred")
    assert (await nominate(county, await seed_project(epool, host, year=2027, category="c27"), tid)).status_code == 201
    assert (await nominate(county, await seed_project(epool, host, year=2024, level="provincial"), tid)
            ).status_code == 201

    url = f"/v1/enrollments/{eid}/no-show/special-reason"
    before = await n_events(epool)
    refused(await other.post(url, json={"reason": "住院"}), 403, "out_of_scope")
    refused(await as_role("host", host).post(url, json={"reason": "住院"}), 403, "forbidden_role")
    refused(await county.post(url, json={"reason": ""}), 422, "validation_error")
    refused(await county.post(url, json={}), 422, "validation_error")
    assert await n_events(epool) == before
    r = await county.post(url, json={"reason": "住院治疗,有医院证明"})
    assert r.status_code == 200, r.text
    excused = await epool.fetchrow("SELECT data, metadata FROM events WHERE stream_id = $1 AND type = 'NoShowExcused'",
                                   f"enrollment-{eid}")
    assert excused["data"]["reason"] == "住院治疗,有医院证明" and excused["metadata"]["actor"]["org"] == COUNTY
    refused(await county.post(url, json={"reason": "again"}), 409, "already_excused")
    # The bar is lifted: a national project of 2025 takes the teacher now.
    assert (await nominate(county, await seed_project(epool, host, year=2025, category="c25b"), tid)
            ).status_code == 201
    row = await epool.fetchrow("SELECT special_reason, barred_until_year FROM enrollments WHERE id = $1",
                               uuid.UUID(eid))
    assert (row["special_reason"], row["barred_until_year"]) == (True, None)


async def test_a_special_reason_needs_a_no_show(epool, county, host):
    eid = await enrolled(county, await seed_project(epool, host), await seed_teacher(epool))
    refused(await county.post(f"/v1/enrollments/{eid}/no-show/special-reason", json={"reason": "x"}), 409,
            "not_no_show")


async def test_a_no_show_with_special_reason_is_not_barred(epool, county, hostc, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    await advance(epool, pid, "started")
    assert (await hostc.post(f"/v1/enrollments/{eid}/no-show", json={"special_reason": True})).status_code == 200
    assert not await epool.fetchval("SELECT count(*) FROM national_bars WHERE teacher_id = $1", uuid.UUID(tid))
    assert (await nominate(county, await seed_project(epool, host, year=2024, category="c"), tid)).status_code == 201


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"region_code": COUNTY}, 422, "validation_error"),
    ({"teacher_id": "not-a-uuid", "region_code": COUNTY}, 422, "validation_error"),
    ({"teacher_id": str(uuid.uuid4()), "region_code": 610102}, 422, "validation_error"),
    ({"teacher_id": str(uuid.uuid4()), "region_code": COUNTY, "extra": 1}, 422, "validation_error"),
    ({"teacher_id": str(uuid.uuid4()), "region_code": COUNTY}, 404, "teacher_not_found"),
])
async def test_bad_nominations_are_problems_and_write_nothing(epool, county, host, body, status, code):
    pid = await seed_project(epool, host)
    before = await n_events(epool)
    refused(await county.post(f"/v1/projects/{pid}/nominations", json=body), status, code)
    assert await n_events(epool) == before


async def test_nomination_unknown_project_wrong_role_and_out_of_scope(epool, as_role, county, hostc, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    before = await n_events(epool)
    refused(await nominate(county, str(uuid.uuid4()), tid), 404, "project_not_found")
    refused(await nominate(hostc, pid, tid), 403, "forbidden_role")
    refused(await nominate(teacher(as_role, tid), pid, tid), 403, "forbidden_role")
    refused(await nominate(as_role("county_admin", COUNTY2), pid, tid), 403, "out_of_scope")
    assert await n_events(epool) == before


async def test_idempotent_nomination_replays_without_a_second_event(epool, county, host):
    pid, tid = await seed_project(epool, host), await seed_teacher(epool)
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first, again = await nominate(county, pid, tid, headers=key), await nominate(county, pid, tid, headers=key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true" and await used(epool, pid) == 1


# Replacement (换人) and withdrawal ------------------------------------------------------------

async def test_replace_keeps_the_place_and_moves_the_national_slot(epool, county, host):
    pid, old, new = await seed_project(epool, host), await seed_teacher(epool), await seed_teacher(epool)
    eid = await enrolled(county, pid, old)
    r = await county.post(f"/v1/enrollments/{eid}/replace", json={"teacher_id": new})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    assert await epool.fetchval("SELECT teacher_id FROM enrollments WHERE id = $1", uuid.UUID(eid)) == uuid.UUID(new)
    assert await epool.fetchval("SELECT teacher_id FROM national_slots WHERE enrollment_id = $1",
                                uuid.UUID(eid)) == uuid.UUID(new)
    assert await used(epool, pid) == 1
    # The old teacher is free again for another national project this year.
    assert (await nominate(county, await seed_project(epool, host, category="c"), old)).status_code == 201


async def test_replace_refusals_write_nothing(epool, as_role, county, host):
    pid, old = await seed_project(epool, host), await seed_teacher(epool)
    eid = await enrolled(county, pid, old)
    busy = await seed_teacher(epool)
    await enrolled(county, await seed_project(epool, host, category="c"), busy)
    url, outsider = f"/v1/enrollments/{eid}/replace", await seed_teacher(epool, SCHOOL2)
    before = await n_events(epool)
    refused(await county.post(url, json={"teacher_id": outsider}), 422, "not_same_region")
    refused(await county.post(url, json={"teacher_id": busy}), 409, "national_limit")
    refused(await county.post(url, json={"teacher_id": old}), 409, "already_nominated")
    refused(await county.post(url, json={"teacher_id": str(uuid.uuid4())}), 404, "teacher_not_found")
    refused(await county.post(url, json={}), 422, "validation_error")
    refused(await as_role("county_admin", COUNTY2).post(url, json={"teacher_id": busy}), 403, "out_of_scope")
    refused(await teacher(as_role, old).post(url, json={"teacher_id": busy}), 403, "forbidden_role")
    refused(await county.post(f"/v1/enrollments/{uuid.uuid4()}/replace", json={"teacher_id": old}), 404,
            "enrollment_not_found")
    assert await n_events(epool) == before
    assert await teacher(as_role, old).post(f"/v1/enrollments/{eid}/check-in")
    refused(await county.post(url, json={"teacher_id": await seed_teacher(epool)}), 409, "already_checked_in")


async def test_withdraw_frees_the_place_and_the_national_slot(epool, as_role, county, host):
    pid, tid = await seed_project(epool, host, quotas={COUNTY: 1}), await seed_teacher(epool)
    eid = await enrolled(county, pid, tid)
    r = await county.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "工作调动"})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert await used(epool, pid) == 0
    assert not await epool.fetchval("SELECT count(*) FROM national_slots WHERE teacher_id = $1", uuid.UUID(tid))
    await enrolled(county, pid, await seed_teacher(epool))  # the freed place is taken by a substitute
    refused(await county.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "x"}), 409, "invalid_transition")
    refused(await teacher(as_role, tid).post(f"/v1/enrollments/{eid}/check-in"), 409, "invalid_transition")


async def test_withdraw_refusals(epool, as_role, county, host):
    _, tid, eid = await checked_in_enrollment(epool, as_role, county, host)
    before = await n_events(epool)
    refused(await county.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "x"}), 409, "already_checked_in")
    refused(await county.post(f"/v1/enrollments/{eid}/withdraw", json={"reason": ""}), 422, "validation_error")
    refused(await as_role("county_admin", COUNTY2).post(f"/v1/enrollments/{eid}/withdraw", json={"reason": "x"}),
            403, "out_of_scope")
    assert await n_events(epool) == before
