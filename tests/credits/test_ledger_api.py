"""Transcripts, revocation, certificates and compliance over HTTP on the real credits app, with
enrollment's events applied through the real intake projection and our own events followed by
the real compliance consumer over NATS."""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import date

import httpx
import pytest

from services.credits.signing import keys_from_jwks, verify_credential
from shared.ratelimit import PgTokenBucket
from tests.conftest import eventually
from tests.credits.given import completed, given_enrollment, jiangxi_world, ok, org, teacher

SCHOOL = "360102001"


@pytest.fixture(scope="module")
async def world(credits_app, as_role, clock):
    return await jiangxi_world(credits_app, as_role, clock)


async def new_teacher(app, school: str = SCHOOL, *awards: tuple[float, str]) -> str:
    t = teacher(school)
    tid = t.data["teacher_id"]
    await given_enrollment(app, t, *(completed(tid, h, on, school[:6]) for h, on in awards))
    return tid


async def test_transcript_of_awards_with_exact_hours_and_credits(world, credits_app, as_role):
    tid = await new_teacher(credits_app, SCHOOL, (40, "2023-03-10"), (25, "2023-07-20"), (30, "2023-09-15"))
    doc = await ok(await as_role("teacher", sub=tid).get(f"/v1/teachers/{tid}/transcript"))
    years = {y["school_year"]: y for y in doc["years"]}
    assert (years[2022]["hours"], years[2022]["credits"], years[2022]["target"], years[2022]["met"]) == (
        65, 3.2, 60, True)  # 65 / 20 = 3.25 → 3.2, rounded down
    assert (years[2023]["hours"], years[2023]["credits"], years[2023]["met"]) == (30, 1.5, False)
    assert (doc["cycle"]["label"], doc["cycle"]["hours"], doc["cycle"]["target"], doc["cycle"]["progress"]) == (
        "2023—2027周期", 30, 300, 0.1)
    assert doc["compliance"]["annual"] == {"school_year": 2023, "target": 60, "met": False}
    assert doc["policy"]["jurisdiction_code"] == "360000" and doc["induction"] is None
    assert [e["hours"] for e in doc["entries"]] == [40, 25, 30]
    # A July completion of a 2023 project credits the 2022学年; the line names both years.
    july = doc["entries"][1]
    assert (july["school_year"], july["source"]["year"], july["source"]["year_kind"], july["source"]["year_label"]) == (
        2022, 2023, "project_year", "2023年度项目")


async def test_revocation_keeps_both_lines_and_as_of_shows_the_past(world, credits_app, as_role, cpool, clock):
    tid = await new_teacher(credits_app, SCHOOL, (60, "2023-05-10"))
    entry_id = str(await cpool.fetchval("SELECT entry_id FROM entries WHERE teacher_id = $1", uuid.UUID(tid)))
    for role, org_code, status, code in (("school_admin", SCHOOL, 403, "forbidden_role"),
                                         ("auditor", "360200", 403, "out_of_scope")):
        resp = await as_role(role, org_code).post(f"/v1/entries/{entry_id}/revoke", json={"reason": "x"})
        assert (resp.status_code, resp.json()["code"]) == (status, code)
    clock["today"] = date(2023, 10, 9)
    auditor = as_role("auditor", "360000")
    done = await ok(await auditor.post(f"/v1/entries/{entry_id}/revoke", json={"reason": "重复登记"}))
    assert (done["status"], done["revoked_on"], done["hours"]) == ("revoked", "2023-10-09", 60)
    again = await auditor.post(f"/v1/entries/{entry_id}/revoke", json={"reason": "重复登记"})
    assert (again.status_code, again.json()["code"]) == (409, "entry_already_revoked")
    missing = await auditor.post(f"/v1/entries/{uuid.uuid4()}/revoke", json={"reason": "x"})
    assert (missing.status_code, missing.json()["code"]) == (404, "entry_not_found")
    now = await ok(await as_role("county_admin", "360102").get(f"/v1/teachers/{tid}/transcript"))
    assert [(e["kind"], e["hours"], e["status"]) for e in now["entries"]] == [
        ("entry", 60, "revoked"), ("revocation", -60, "revoked")]
    assert now["years"][-2]["school_year"] == 2022 and now["years"][-2]["hours"] == 0
    past = await ok(await auditor.get(f"/v1/teachers/{tid}/transcript?as_of=2023-10-08"))
    assert [(e["kind"], e["status"]) for e in past["entries"]] == [("entry", "active")]
    assert {y["school_year"]: y["hours"] for y in past["years"]}[2022] == 60
    assert (await auditor.get(f"/v1/teachers/{tid}/transcript?as_of=2023-10-10")).json()["code"] == "as_of_in_future"
    assert await cpool.fetchval("SELECT count(*) FROM entries WHERE teacher_id = $1", uuid.UUID(tid)) == 1


@pytest.mark.parametrize(("role", "org_code", "own", "status"), [
    ("teacher", None, True, 200), ("teacher", None, False, 403), ("school_admin", SCHOOL, False, 200),
    ("school_admin", "360102002", False, 403), ("city_admin", "360200", False, 403), ("host", str(uuid.UUID(int=1)),
                                                                                    False, 403),
])
async def test_who_reads_a_transcript(world, credits_app, as_role, role, org_code, own, status):
    tid = await new_teacher(credits_app, SCHOOL)
    resp = await as_role(role, org_code, sub=tid if own else str(uuid.uuid4())).get(f"/v1/teachers/{tid}/transcript")
    assert resp.status_code == status, resp.text


async def test_certificate_issue_verify_offline_and_invalid_after_revocation(world, credits_app, as_role, cpool):
    tid = await new_teacher(credits_app, SCHOOL, (45, "2023-04-01"), (15, "2023-06-01"))
    me = as_role("teacher", sub=tid)
    cert = await ok(await me.post(f"/v1/teachers/{tid}/certificates", json={"year": 2022}), 201)
    number = cert["certificate_no"]
    assert number.startswith("JX-2022-") and (cert["hours"], cert["credits"], cert["valid"]) == (60, 3, True)
    same = await me.post(f"/v1/teachers/{tid}/certificates", json={"year": 2022})
    assert same.status_code == 200 and same.json()["certificate_no"] == number  # no second certificate
    public = as_role(None)
    shown = await ok(await public.get(f"/v1/certificates/{number}"))
    assert shown["valid"] and shown["holder"] == f"{tid.replace('-', '')[:4]}****…****{tid[-4:]}"
    assert tid not in (await public.get(f"/v1/certificates/{number}")).text  # no raw id, no personal data
    keys = keys_from_jwks(await ok(await public.get("/v1/certificates/keys")))
    assert verify_credential(shown["credential"], keys)
    forged = copy.deepcopy(shown["credential"])
    forged["credentialSubject"]["result"][0]["value"] = "120"
    assert not verify_credential(forged, keys)
    entry = await cpool.fetchval("SELECT entry_id FROM entries WHERE teacher_id = $1 AND hours_tenths = 150",
                                 uuid.UUID(tid))
    await ok(await as_role("auditor", "360000").post(f"/v1/entries/{entry}/revoke", json={"reason": "误录"}))
    after = await ok(await public.get(f"/v1/certificates/{number}"))
    assert (after["valid"], after["status"], after["invalid_reasons"]) == (False, "invalid", ["entry_revoked"])
    assert verify_credential(after["credential"], keys)  # still authentic, no longer valid
    short = await me.post(f"/v1/teachers/{tid}/certificates", json={"year": 2022})
    assert (short.status_code, short.json()["code"]) == (409, "target_not_met")


@pytest.mark.parametrize(("payload", "status", "code"), [
    ({"year": 2022, "cycle": 2018}, 422, "validation_error"), ({"cycle": 2019}, 422, "not_a_cycle"),
    ({"year": 2024}, 422, "period_not_started"), ({"cycle": 2018}, 409, "target_not_met"),
])
async def test_certificate_refusals(world, credits_app, as_role, payload, status, code):
    tid = await new_teacher(credits_app, SCHOOL, (10, "2023-04-01"))
    resp = await as_role("school_admin", SCHOOL).post(f"/v1/teachers/{tid}/certificates", json=payload)
    assert (resp.status_code, resp.json()["code"]) == (status, code)


def bucket(app, now: list[float], rate: float = 0.5, burst: int = 2) -> PgTokenBucket:
    """A limiter of its own (a fresh name) on the app's database, on an injected clock."""
    return PgTokenBucket(app.state.pool, f"test-{uuid.uuid4()}", rate, burst, clock=lambda: now[0])


async def test_public_verification_is_rate_limited_per_client(world, credits_app):
    """A token bucket per client address (CREDITS_VERIFY_RATE a second, CREDITS_VERIFY_BURST at
    once): past it a client gets 429 problem+json with Retry-After, another client does not, and
    the bucket refills with time (the limiter's clock is injected: no sleeping). X-Forwarded-For
    counts only with CREDITS_TRUST_FORWARDED_FOR, and then only its last entry — the one the
    trusted proxy appended — so a client cannot rotate the header for a fresh bucket."""
    now = [1000.0]
    saved = getattr(credits_app.state, "credits_limiter", None), credits_app.state.credits_settings
    credits_app.state.credits_limiter = bucket(credits_app, now)
    url = "/v1/certificates/JX-2022-AAAA-BBBB-CCCC-DDDD"

    def from_(address: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=credits_app, client=(address, 5000)),
                                 base_url="http://credits")

    async def codes(c: httpx.AsyncClient, n: int, **kw) -> list[int]:
        return [(await c.get(url, **kw)).status_code for _ in range(n)]

    try:
        a, b = from_("203.0.113.7"), from_("198.51.100.9")
        assert await codes(a, 3) == [404, 404, 429]
        limited = await a.get(url)
        assert limited.status_code == 429 and limited.headers["content-type"].startswith("application/problem+json")
        assert limited.json()["code"] == "rate_limited" and 1 <= int(limited.headers["retry-after"]) <= 3
        assert await codes(b, 2) == [404, 404]  # another client: its own bucket
        # Not behind a trusted proxy: a header the client writes changes nothing.
        assert [(await a.get(url, headers={"X-Forwarded-For": f"192.0.2.{i}"})).status_code
                for i in range(3)] == [429, 429, 429]
        now[0] += 1.0  # half a token
        assert await codes(a, 1) == [429]
        now[0] += 1.0  # one token: one request, then limited again
        assert await codes(a, 2) == [404, 429]
        now[0] += 60.0  # refilled to the burst, not beyond
        assert await codes(a, 3) == [404, 404, 429]

        # Behind a trusted proxy (10.0.0.2) every request comes from the proxy's address; the
        # client is the entry the proxy appended, whatever the client put before it.
        credits_app.state.credits_settings = saved[1].model_copy(update={"trust_forwarded_for": True})
        credits_app.state.credits_limiter = bucket(credits_app, now)
        proxy = from_("10.0.0.2")
        assert [(await proxy.get(url, headers={"X-Forwarded-For": f"192.0.2.{i}, 203.0.113.7"})).status_code
                for i in range(3)] == [404, 404, 429]
        assert await codes(proxy, 2, headers={"X-Forwarded-For": "198.51.100.9"}) == [404, 404]
        assert await codes(proxy, 1) == [404]  # no header: the proxy's own address

        # The limiter the app builds itself follows CREDITS_VERIFY_RATE and CREDITS_VERIFY_BURST.
        credits_app.state.credits_settings = saved[1].model_copy(update={"verify_rate": 0.001, "verify_burst": 3})
        credits_app.state.credits_limiter = None
        assert await codes(from_("192.0.2.50"), 4) == [404, 404, 404, 429]
    finally:
        credits_app.state.credits_limiter, credits_app.state.credits_settings = saved


async def test_the_verification_limit_is_one_budget_across_replicas(world, credits_app, cpool):
    """Issue 19: the buckets live in PostgreSQL, so two replicas (two limiters on one database)
    draw on one budget per client; concurrent requests never take more tokens than there are."""
    now = [5000.0]
    name = f"test-{uuid.uuid4()}"
    replicas = [PgTokenBucket(cpool, name, 0.5, 4, clock=lambda: now[0]) for _ in range(2)]
    waits = [await replicas[i % 2].take("203.0.113.7") for i in range(5)]
    assert waits[:4] == [0.0] * 4 and 1.9 <= waits[4] <= 2.1  # the fifth, on either replica, waits ~2 s
    now[0] += 60
    waits = await asyncio.gather(*(replicas[i % 2].take("198.51.100.1") for i in range(12)))
    assert sorted(w == 0.0 for w in waits).count(True) == 4, waits
    # Refilled buckets are pruned; a bucket still short is kept.
    pruner = PgTokenBucket(cpool, name, 0.5, 4, clock=lambda: now[0], prune_every=1)
    now[0] += 60
    await pruner.take("192.0.2.1")
    assert await cpool.fetchval("SELECT count(*) FROM rate_buckets WHERE name = $1", name) == 1


async def test_compliance_rolls_up_from_schools_to_province(world, credits_app, as_role):
    # A subtree of its own (city 360400) so other tests' teachers do not count here.
    await given_enrollment(credits_app, org("360400", "city", "360000"), org("360402", "county", "360400"),
                           org("360403", "county", "360400"), org("360402001", "school", "360402"),
                           org("360402002", "school", "360402"), org("360403001", "school", "360403"))
    await new_teacher(credits_app, "360402001", (60, "2023-05-01"))  # meets 60
    await new_teacher(credits_app, "360402001", (59.5, "2023-05-01"))  # half an hour short
    await new_teacher(credits_app, "360402002", (30, "2023-05-01"), (30, "2023-08-31"))  # meets, two awards
    await new_teacher(credits_app, "360403001", (90, "2023-09-01"))  # counts in 2023, not 2022
    await given_enrollment(credits_app, teacher("360403001", hired_on="2024-01-01"))  # not yet hired in 2022
    city = as_role("city_admin", "360400")

    async def caught_up() -> bool:
        doc = (await city.get("/v1/orgs/360400/compliance?year=2022")).json()
        return doc.get("meeting") == 2

    await eventually(caught_up, message="compliance consumer caught up")
    doc = await ok(await city.get("/v1/orgs/360400/compliance?year=2022"))
    assert (doc["teachers"], doc["meeting"], doc["share"], doc["label"]) == (4, 2, 0.5, "2022学年")
    assert [(c["code"], c["teachers"], c["meeting"], c["share"]) for c in doc["children"]] == [
        ("360402", 3, 2, 0.6666), ("360403", 1, 0, 0)]
    county = await ok(await as_role("county_admin", "360402").get("/v1/orgs/360402/compliance?year=2022"))
    assert [(c["code"], c["meeting"]) for c in county["children"]] == [("360402001", 1), ("360402002", 1)]
    province = await ok(await as_role("auditor", "360000").get("/v1/orgs/360000/compliance?year=2022"))
    assert "360400" in [c["code"] for c in province["children"]] and province["teachers"] >= 4
    for role, org_code, code in (("teacher", None, "forbidden_role"), ("county_admin", "360403", "out_of_scope")):
        resp = await as_role(role, org_code, sub=str(uuid.uuid4())).get("/v1/orgs/360402/compliance?year=2022")
        assert (resp.status_code, resp.json()["code"]) == (403, code)


async def test_a_v1_award_written_raw_reads_back_as_v2_and_its_transcript_line_is_the_same(
        world, credits_app, as_role, cpool):
    """HoursAwarded v2 (issue 16) names the completion's project year `source.project_year`; a v1
    event as stored before (`source.year`) is upcast on load, by the store and by a rebuild alike,
    and the transcript shows it exactly as it shows a v2 award."""
    from services.credits.events import registry, store
    from shared.envelope import InvalidEventData, Metadata, NewEvent
    from shared.eventstore import NO_STREAM

    tid = await new_teacher(credits_app, SCHOOL, (25, "2023-07-20"))
    async with cpool.acquire() as conn:
        sid = await conn.fetchval(
            "SELECT stream_id FROM events WHERE type = 'HoursAwarded' AND data->>'teacher_id' = $1", tid)
        [award] = await store.load(conn, sid)
    assert award.schema_version == 2 and award.data["source"]["project_year"] == 2023
    assert "year" not in award.data["source"]
    with pytest.raises(InvalidEventData):  # the gate: a v1-shaped source is no v2 HoursAwarded
        registry.version_for("HoursAwarded", {**award.data, "source": {"type": "enrollment", "event_id": "x",
                                                                         "year": 2023}})

    # The same award as version 1 wrote it, raw into the store (past the gate), for a second entry.
    entry_id = str(uuid.uuid4())
    source_v1 = {("year" if k == "project_year" else k): v for k, v in award.data["source"].items()}
    v1 = {**award.data, "entry_id": entry_id, "source": {**source_v1, "event_id": str(uuid.uuid4())}}
    async with cpool.acquire() as conn, conn.transaction():
        await store.append(conn, f"award-{entry_id}", NO_STREAM, [NewEvent("HoursAwarded", v1, 1)], Metadata())
    async with cpool.acquire() as conn:
        assert await conn.fetchval("SELECT schema_version FROM events WHERE stream_id = $1", f"award-{entry_id}") == 1
        [read] = await store.load(conn, f"award-{entry_id}")
    assert read.schema_version == 2
    assert read.data["source"] == {**award.data["source"], "event_id": v1["source"]["event_id"]}

    # The ledger rebuilt from the store (the lean path upcasts too): both lines alike.
    await ok(await as_role("service").post("/v1/admin/rebuild", json={"models": ["ledger"]}))
    doc = await ok(await as_role("teacher", sub=tid).get(f"/v1/teachers/{tid}/transcript"))
    lines = {e["entry_id"]: e for e in doc["entries"]}
    old, new = lines[entry_id], lines[award.data["entry_id"]]
    assert (old["source"]["year"], old["source"]["year_kind"], old["source"]["year_label"]) == (
        2023, "project_year", "2023年度项目")
    strip = ("entry_id", "source")
    assert {k: v for k, v in old.items() if k not in strip} == {k: v for k, v in new.items() if k not in strip}
    assert {k: v for k, v in old["source"].items() if k != "event_id"} == {
        k: v for k, v in new["source"].items() if k != "event_id"}
