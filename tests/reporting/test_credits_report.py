"""Credit compliance as credits judges and publishes it, shown by reporting per region: Jiangxi's
60 hours a year, Jiyuan's 360 hours over 5 years with a workshop minimum, a school under no policy;
awards, approved claims and revocations; hire dates."""

from __future__ import annotations

import uuid

import pytest

from tests.credits.given import completed, given_enrollment, org, teacher
from tests.reporting.given import Given, at_head, ok, refused

ORGS = [("360000", "江西省", "province", None), ("360100", "南昌市", "city", "360000"),
        ("360102", "东湖区", "county", "360100"), ("360102001", "东湖一中", "school", "360102"),
        ("360102002", "东湖二中", "school", "360102"), ("410000", "河南省", "province", None),
        ("419001", "济源市", "county", "410000"), ("419001001", "济源一中", "school", "419001"),
        ("330000", "浙江省", "province", None), ("330100", "杭州市", "city", "330000"),
        ("330106", "西湖区", "county", "330100"), ("330106001", "西湖一中", "school", "330106")]
# teacher → (school, hired_on, [(event, hours, category)])
TEACHERS = {
    "A": ("360102001", "2010-09-01", [("HoursAwarded", 60, "centralized")]),
    "B": ("360102001", "2010-09-01", [("HoursAwarded", 59.9, "centralized")]),
    "C": ("360102002", "2010-09-01", [("HoursAwarded", 50, "centralized"), ("ClaimApproved", 10, "workshop")]),
    "D": ("360102002", "2024-09-01", [("HoursAwarded", 60, "centralized")]),  # hired after 2023学年: not counted
    "E": ("360102002", "2010-09-01", [("HoursAwarded", 70, "online"), ("EntryRevoked", 70, "online")]),
    "F": ("419001001", "2010-09-01", [("HoursAwarded", 72, "centralized")]),  # no workshop hours
    "G": ("419001001", "2010-09-01", [("HoursAwarded", 62, "centralized"), ("HoursAwarded", 10, "workshop")]),
    "H": ("330106001", "2010-09-01", [("HoursAwarded", 90, "centralized")]),  # no policy up its tree
}


def policy(**values) -> dict:
    return {"effective_from": "2019-01-01", "hours_per_credit": 20, "cycle_years": 5, "cycle_start_year": 2021,
            **values}


@pytest.fixture(scope="module")
async def world(rpool, credits_app, as_credits):
    """The story above told to the real credits service — completions from enrollment's stream, a
    claim reviewed, an award revoked — while reporting holds only the org tree: its figures are
    credits' published verdicts (GET /v1/compliance/schools), added up per region."""
    enrollment = Given(rpool)
    for code, name, kind, parent in ORGS:
        await enrollment(f"org-{code}", ("OrgRegistered", {"code": code, "name": name, "kind": kind,
                                                           "parent_code": parent}))
        await given_enrollment(credits_app, org(code, kind, parent))
    await ok(await as_credits("province_admin", "360000").put("/v1/policies/360000", json=policy(annual_hours=60)),
             201)
    await ok(await as_credits("county_admin", "419001").put("/v1/policies/419001", json=policy(
        cycle_hours=360, categories=[{"code": "workshop", "name": "工作坊研修", "min_hours": 10}])), 201)
    cpool, auditor = credits_app.state.pool, as_credits("auditor", "360000")
    for school, hired_on, entries in TEACHERS.values():
        tid = str(uuid.uuid4())
        await given_enrollment(credits_app, teacher(school, hired_on, tid))
        for type_, hours, category in entries:
            if type_ == "HoursAwarded":  # enrollment's completion, awarded by credits' intake
                await given_enrollment(credits_app, completed(tid, hours, "2023-12-01", school, category))
            elif type_ == "ClaimApproved":
                claim = await ok(await as_credits("county_admin", school[:6]).post("/v1/claims", json={
                    "teacher_id": tid, "hours": hours, "category": category, "source": "workshop",
                    "earned_on": "2023-12-01", "evidence": "东教研〔2023〕12号"}), 201)
                await ok(await auditor.post(f"/v1/claims/{claim['claim_id']}/approve", json={}))
            else:  # EntryRevoked: the award just made is revoked
                entry = await cpool.fetchval("SELECT entry_id FROM entries WHERE teacher_id = $1 AND kind = 'award'",
                                             uuid.UUID(tid))
                await ok(await auditor.post(f"/v1/entries/{entry}/revoke", json={"reason": "重复登记"}))
    await at_head(credits_app, credits_app, "credits_compliance")


async def test_teachers_meeting_the_annual_target_per_region(world, as_role):
    doc = await ok(await as_role("service").get("/v1/reports/credits", params={"year": 2023}))
    assert (doc["year_kind"], doc["year_label"]) == ("school_year", "2023学年")
    # A and C (50 + 10 claimed) meet Jiangxi's 60; B has 59.9; E's hours were revoked; D is not yet hired.
    # G meets Jiyuan's 72 with its 10 workshop hours, F lacks them. H's school has no policy at all.
    assert {i["region_code"]: (i["teachers"], i["meeting"], i["without_policy"], i["hours"], i["share"])
            for i in doc["items"]} == {"330000": (1, 0, 1, "90.0", "0.0000"), "360000": (4, 2, 0, "179.9", "0.5000"),
                                       "410000": (2, 1, 0, "144.0", "0.5000")}
    # 3 of 7: 0.428571… shown rounded down, as the credits service shows it.
    assert (doc["total"]["teachers"], doc["total"]["meeting"], doc["total"]["share"]) == (7, 3, "0.4285")


async def test_a_county_sees_its_schools_and_no_one_elses(world, as_role):
    county = await ok(await as_role("county_admin", "360102").get("/v1/reports/credits", params={"year": 2023}))
    assert [(i["region_code"], i["teachers"], i["meeting"], i["with_hours"]) for i in county["items"]] == [
        ("360102001", 2, 1, 2), ("360102002", 2, 1, 1)]
    empty = await ok(await as_role("county_admin", "360102").get("/v1/reports/credits", params={"year": 2031}))
    assert (empty["total"]["teachers"], empty["total"]["meeting"]) == (5, 0)  # D hired by then; no hours
    refused(await as_role("county_admin", "360102").get("/v1/reports/credits", params={
        "year": 2023, "region_code": "419001"}), 403, "out_of_scope")
    refused(await as_role("host", str(uuid.uuid4())).get("/v1/reports/credits", params={"year": 2023}), 403,
            "forbidden_role")


async def test_a_policy_published_at_credits_moves_reporting_with_no_rule_in_reporting(world, as_role, as_credits):
    """Jiangxi lowers its annual target to 50 hours from the 2023学年: B's 59.9 now meets it. Reporting
    knows no target, no school year and no policy; the figures follow what credits publishes,
    together with the policy version credits judged by."""
    before = await ok(await as_role("service").get("/v1/reports/credits", params={"year": 2023}))
    await ok(await as_credits("province_admin", "360000").put("/v1/policies/360000", json=policy(
        effective_from="2023-09-01", annual_hours=50)), 201)
    after = await ok(await as_role("service").get("/v1/reports/credits", params={"year": 2023}))
    jiangxi = {d["region_code"]: d for d in after["items"]}["360000"]
    assert {d["region_code"]: d for d in before["items"]}["360000"]["meeting"] == 2
    assert (jiangxi["teachers"], jiangxi["meeting"], jiangxi["share"]) == (4, 3, "0.7500")
    assert {(p["jurisdiction_code"], p["version"]) for p in after["policies"]} == {("360000", 2), ("419001", 1)}
