"""Policies and claims over HTTP on the real credits app (PostgreSQL + NATS): versions, scope and
roles, review by the right auditor, idempotency, and nothing written on a refusal."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from tests.credits.given import given_enrollment, jiangxi_tree, ok, teacher
from tests.credits.seeds import JIANGXI_2018, JIANGXI_2021, body

SCHOOL, OTHER_CITY_SCHOOL = "360102001", "360202001"


@pytest.fixture(scope="module")
async def world(credits_app, as_role, clock):
    await given_enrollment(credits_app, *jiangxi_tree())
    t1, t2 = teacher(SCHOOL), teacher(OTHER_CITY_SCHOOL)
    await given_enrollment(credits_app, t1, t2)
    province = as_role("province_admin", "360000")
    clock["today"] = date(2018, 2, 6)  # published when the seed was issued
    await ok(await province.put("/v1/policies/360000", json=body(JIANGXI_2018)), 201)
    clock["today"] = date(2023, 10, 8)
    return {"t1": t1.data["teacher_id"], "t2": t2.data["teacher_id"]}


async def events_on(pool, stream: str) -> int:
    return await pool.fetchval("SELECT count(*) FROM events WHERE stream_id = $1", stream)


async def test_policy_versions_repeat_correction_and_lookup_up_the_tree(world, as_role, cpool, clock):
    province = as_role("province_admin", "360000")
    again = await province.put("/v1/policies/360000", json=body(JIANGXI_2018))
    assert again.status_code == 200 and again.headers["etag"] == '"1"' and await events_on(cpool, "policy-360000") == 1
    clock["today"] = date(2021, 7, 1)
    change = await province.put("/v1/policies/360000", json=body(JIANGXI_2021), headers={"If-Match": '"1"'})
    assert change.status_code == 201 and change.headers["etag"] == '"2"'
    clock["today"] = date(2023, 10, 8)
    for on, per_credit, annual in (("2020-01-01", 20, 60), ("2021-09-01", 24, 72)):
        doc = await ok(await as_role("teacher", sub=world["t1"]).get(f"/v1/policies/{SCHOOL}?as_of={on}"))
        assert (doc["jurisdiction_code"], doc["requested_code"], doc["hours_per_credit"], doc["annual_hours"]) == (
            "360000", SCHOOL, per_credit, annual)
    assert (await province.get("/v1/policies/360000?as_of=2017-12-31")).json()["code"] == "policy_not_found"
    stale = await province.put("/v1/policies/360000", json={**body(JIANGXI_2021), "annual_hours": 80},
                               headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and await events_on(cpool, "policy-360000") == 2


@pytest.mark.parametrize(("role", "org", "payload", "status", "code"), [
    ("city_admin", "360100", {}, 403, "out_of_scope"),
    ("teacher", None, {}, 403, "forbidden_role"),
    ("province_admin", "360000", {"annual_hours": None, "cycle_hours": None}, 422, "policy_targets_missing"),
    ("province_admin", "360000", {"hours_per_credit": 12.25}, 422, "validation_error"),
    ("province_admin", "360000", {"school_year_start": "13-01"}, 422, "validation_error"),
])
async def test_policy_refusals_write_nothing(world, as_role, cpool, role, org, payload, status, code):
    before = await events_on(cpool, "policy-360000")
    doc = {**body(JIANGXI_2018), "effective_from": "2024-09-01", **payload}
    resp = await as_role(role, org, sub=world["t1"]).put("/v1/policies/360000", json=doc)
    assert (resp.status_code, resp.json()["code"]) == (status, code)
    assert resp.headers["content-type"] == "application/problem+json"
    assert await events_on(cpool, "policy-360000") == before


def claim_body(teacher_id: str, hours: float = 12, **kw) -> dict:
    return {"teacher_id": teacher_id, "hours": hours, "category": "workshop", "source": "workshop",
            "earned_on": "2023-09-20", "evidence": "JX-WS-2023-0042", **kw}


async def test_claim_submitted_by_the_teacher_and_approved_by_the_auditor(world, as_role, cpool):
    me = as_role("teacher", sub=world["t1"])
    headers = {"Idempotency-Key": f"claim-{uuid.uuid4()}"}
    first = await ok(await me.post("/v1/claims", json=claim_body(world["t1"]), headers=headers), 201)
    replay = await me.post("/v1/claims", json=claim_body(world["t1"]), headers=headers)
    assert replay.json()["claim_id"] == first["claim_id"] and replay.headers["idempotent-replayed"] == "true"
    assert first["status"] == "pending" and first["school_year"] == 2023
    cid = first["claim_id"]
    wrong_role = await as_role("county_admin", "360102").post(f"/v1/claims/{cid}/approve")
    assert (wrong_role.status_code, wrong_role.json()["code"]) == (403, "forbidden_role")
    elsewhere = await as_role("auditor", "360200").post(f"/v1/claims/{cid}/approve")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (403, "out_of_scope")
    assert await events_on(cpool, f"claim-{cid}") == 1  # refusals wrote nothing
    approved = await ok(await as_role("auditor", "360100").post(f"/v1/claims/{cid}/approve", json={}))
    assert (approved["status"], approved["entry_id"], approved["decided_on"]) == ("approved", cid, "2023-10-08")
    again = await as_role("auditor", "360000").post(f"/v1/claims/{cid}/approve")
    assert (again.status_code, again.json()["code"]) == (409, "claim_not_pending")
    transcript = await ok(await me.get(f"/v1/teachers/{world['t1']}/transcript"))
    assert [(e["entry_id"], e["hours"], e["source_type"]) for e in transcript["entries"]] == [(cid, 12, "claim")]
    pending = await ok(await as_role("auditor", "360000").get("/v1/claims?status=approved"))
    assert cid in [c["claim_id"] for c in pending["items"]]


async def test_claim_rejected_with_a_reason_earns_nothing(world, as_role, cpool):
    admin = as_role("school_admin", OTHER_CITY_SCHOOL)
    cid = (await ok(await admin.post("/v1/claims", json=claim_body(world["t2"], 30)), 201))["claim_id"]
    auditor = as_role("auditor", "360200")
    assert (await auditor.post(f"/v1/claims/{cid}/reject", json={})).status_code == 422
    rejected = await ok(await auditor.post(f"/v1/claims/{cid}/reject", json={"reason": "证明材料不全"}))
    assert (rejected["status"], rejected["reason"], rejected["entry_id"]) == ("rejected", "证明材料不全", None)
    assert await cpool.fetchval("SELECT count(*) FROM entries WHERE teacher_id = $1", uuid.UUID(world["t2"])) == 0
    listed = await ok(await as_role("teacher", sub=world["t2"]).get("/v1/claims"))
    assert [c["status"] for c in listed["items"]] == ["rejected"]


@pytest.mark.parametrize(("role", "org", "sub", "payload", "status", "code"), [
    ("teacher", None, "other", {}, 403, "out_of_scope"),  # a teacher claims only their own hours
    ("school_admin", "360102002", None, {}, 403, "out_of_scope"),
    ("auditor", "360000", None, {}, 403, "forbidden_role"),  # auditors review, they do not claim
    ("province_admin", "360000", None, {"hours": 0}, 422, "validation_error"),
    ("province_admin", "360000", None, {"earned_on": "2023-10-09"}, 422, "earned_in_future"),
    ("province_admin", "360000", None, {"teacher_id": str(uuid.UUID(int=7))}, 404, "teacher_not_found"),
])
async def test_claim_refusals_write_nothing(world, as_role, cpool, role, org, sub, payload, status, code):
    before = await cpool.fetchval("SELECT count(*) FROM events")
    resp = await as_role(role, org, sub=str(uuid.uuid4()) if sub else None).post(
        "/v1/claims", json={**claim_body(world["t1"]), **payload})
    assert (resp.status_code, resp.json()["code"]) == (status, code)
    assert await cpool.fetchval("SELECT count(*) FROM events") == before


async def test_unknown_claim_and_cursor_paging(world, as_role):
    auditor = as_role("auditor", "360000")
    missing = await auditor.post(f"/v1/claims/{uuid.uuid4()}/approve")
    assert (missing.status_code, missing.json()["code"]) == (404, "claim_not_found")
    page = await ok(await auditor.get("/v1/claims?limit=1"))
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = await ok(await auditor.get(f"/v1/claims?limit=1&cursor={page['next_cursor']}"))
    assert rest["items"][0]["claim_id"] != page["items"][0]["claim_id"]
    assert (await auditor.get("/v1/claims?cursor=bogus")).json()["code"] == "bad_cursor"
