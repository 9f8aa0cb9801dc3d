"""The teacher's own records over HTTP (issue 15, "me" endpoints) on the real credits app:
GET /v1/me/transcript is the teacher's transcript for the token's sub, GET /v1/me/certificates
their certificates, paged; only the teacher role; bad input is a 4xx problem; reads write nothing."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from tests.credits.given import completed, given_enrollment, jiangxi_world, ok, teacher

SCHOOL = "360102001"


@pytest.fixture(scope="module")
async def world(credits_app, as_role, clock):
    return await jiangxi_world(credits_app, as_role, clock)


async def new_teacher(app, *awards: tuple[float, str]) -> str:
    t = teacher(SCHOOL)
    tid = t.data["teacher_id"]
    await given_enrollment(app, t, *(completed(tid, h, on, SCHOOL[:6]) for h, on in awards))
    return tid


async def n_events(cpool) -> int:
    return await cpool.fetchval("SELECT count(*) FROM events")


def refused(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json") and r.json()["code"] == code


async def test_my_transcript_is_my_transcript_as_of_today_or_a_past_day(world, credits_app, as_role, cpool):
    tid = await new_teacher(credits_app, (40, "2023-03-10"), (25, "2023-07-20"))
    me = as_role("teacher", sub=tid)
    before = await n_events(cpool)
    mine = await ok(await me.get("/v1/me/transcript"))
    assert mine == await ok(await as_role("county_admin", "360102").get(f"/v1/teachers/{tid}/transcript"))
    assert mine["teacher_id"] == tid and {y["school_year"]: y["hours"] for y in mine["years"]}[2022] == 65
    past = await ok(await me.get("/v1/me/transcript", params={"as_of": "2023-05-01"}))
    assert [e["hours"] for e in past["entries"]] == [40]
    assert await n_events(cpool) == before


async def test_my_certificates_newest_first_paged_and_only_mine(world, credits_app, as_role, cpool, clock):
    tid = await new_teacher(credits_app, (40, "2023-03-10"), (25, "2023-07-20"), (60, "2023-09-15"))
    other = await new_teacher(credits_app, (70, "2023-03-10"))
    me = as_role("teacher", sub=tid)
    first = await ok(await me.post(f"/v1/teachers/{tid}/certificates", json={"year": 2022}), 201)
    clock["today"] = date(2023, 10, 9)
    second = await ok(await me.post(f"/v1/teachers/{tid}/certificates", json={"year": 2023}), 201)
    clock["today"] = date(2023, 10, 8)
    await ok(await as_role("teacher", sub=other).post(f"/v1/teachers/{other}/certificates", json={"year": 2022}), 201)
    before = await n_events(cpool)

    page = await ok(await me.get("/v1/me/certificates"))
    assert page["teacher_id"] == tid and page["next_cursor"] is None
    assert [c["certificate_no"] for c in page["items"]] == [second["certificate_no"], first["certificate_no"]]
    shown = page["items"][1]
    assert shown == await ok(await as_role(None).get(f"/v1/certificates/{first['certificate_no']}"))
    assert (shown["label"], shown["hours"], shown["valid"]) == (first["label"], 65, True)

    one = await ok(await me.get("/v1/me/certificates", params={"limit": 1}))
    assert [c["certificate_no"] for c in one["items"]] == [second["certificate_no"]] and one["next_cursor"]
    rest = await ok(await me.get("/v1/me/certificates", params={"limit": 1, "cursor": one["next_cursor"]}))
    assert [c["certificate_no"] for c in rest["items"]] == [first["certificate_no"]] and rest["next_cursor"] is None

    nobody = await ok(await as_role("teacher", sub=str(uuid.uuid4())).get("/v1/me/certificates"))
    assert nobody["items"] == []
    assert await n_events(cpool) == before


@pytest.mark.parametrize("path", ["/v1/me/transcript", "/v1/me/certificates"])
@pytest.mark.parametrize(("role", "org"), [("school_admin", SCHOOL), ("county_admin", "360102"),
                                           ("province_admin", "360000"), ("auditor", "360000"), ("host", None),
                                           ("service", None)])
async def test_only_a_teacher_has_a_me(world, as_role, cpool, path, role, org):
    before = await n_events(cpool)
    refused(await as_role(role, org).get(path), 403, "forbidden_role")
    assert await n_events(cpool) == before


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    ("/v1/me/transcript", {"as_of": "2023-10-09"}, 422, "as_of_in_future"),
    ("/v1/me/transcript", {"as_of": "yesterday"}, 422, "validation_error"),
    ("/v1/me/certificates", {"cursor": "not a cursor"}, 422, "bad_cursor"),
    ("/v1/me/certificates", {"cursor": "MjAyMy0xMy0wMQpY"}, 422, "bad_cursor"),  # "2023-13-01\nX": no date
    ("/v1/me/certificates", {"cursor": "eA=="}, 422, "bad_cursor"),  # one part, not two
    ("/v1/me/certificates", {"limit": 0}, 422, "validation_error"),
    ("/v1/me/certificates", {"limit": 201}, 422, "validation_error"),
])
async def test_bad_input_is_a_problem_never_a_500(world, credits_app, as_role, cpool, path, params, status, code):
    tid = await new_teacher(credits_app, (40, "2023-03-10"))
    before = await n_events(cpool)
    refused(await as_role("teacher", sub=tid).get(path, params=params), status, code)
    assert await n_events(cpool) == before


async def test_a_teacher_unknown_to_credits_or_a_sub_that_is_no_teacher_id(world, as_role):
    refused(await as_role("teacher", sub=str(uuid.uuid4())).get("/v1/me/transcript"), 404, "teacher_not_found")
    for path in ("/v1/me/transcript", "/v1/me/certificates"):
        refused(await as_role("teacher", sub="not-a-teacher-id").get(path), 404, "teacher_not_found")
    anonymous = await as_role(None).get("/v1/me/transcript")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "missing_token"
