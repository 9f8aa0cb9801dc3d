"""Credit compliance end to end: the real enrollment, credits and reporting apps in one process on
one bus namespace. Teachers are registered with enrollment, their hours are claimed, approved and
revoked through the credits API, and reporting — from credits' published verdicts — counts the
teachers meeting Jiangxi's annual target exactly as the credits service counts them."""

from __future__ import annotations

import pytest

from tests.reporting.given import at_head, ok

PROVINCE, CITY, COUNTY, S1, S2 = "360000", "360100", "360102", "360102001", "360102002"
ORGS = [(PROVINCE, "江西省", "province", None), (CITY, "南昌市", "city", PROVINCE), (COUNTY, "东湖区", "county", CITY),
        (S1, "东湖一中", "school", COUNTY), (S2, "东湖二中", "school", COUNTY)]
WEIGHTS, CHECK = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), "10X98765432"
# school, claimed hours, what happens to the claim: T1 meets 60; T2 has 40; T3's 70 are revoked; T4's wait.
TEACHERS = [(S1, 60, "approve"), (S1, 40, "approve"), (S2, 70, "revoke"), (S2, 65, "pending")]


def national_id(seq: int) -> str:
    body = f"360102198803{seq:02d}{200 + seq:03d}"  # GB 11643 check digit below
    return body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


@pytest.fixture(scope="module")
async def world(enrollment_app, credits_app, reporting_app, as_enrollment, as_credits):
    province = as_enrollment("province_admin", PROVINCE)
    for code, name, kind, parent in ORGS:
        await ok(await province.put(f"/v1/orgs/{code}", json={"name": name, "kind": kind, "parent_code": parent}),
                 201)
    teachers = []
    for seq, (school, _, _) in enumerate(TEACHERS, start=1):
        doc = await ok(await province.post("/v1/teachers", json={
            "name": f"教师{seq}", "national_id": national_id(seq), "school_code": school, "subject": "语文",
            "stage": "初中", "title": "一级教师", "hired_on": "2012-09-01"}), 201)
        teachers.append(doc["id"])
    await at_head(credits_app, enrollment_app, "credits_intake")
    await ok(await as_credits("province_admin", PROVINCE).put(f"/v1/policies/{PROVINCE}", json={
        "effective_from": "2019-01-01", "hours_per_credit": 20, "annual_hours": 60, "cycle_years": 5,
        "cycle_start_year": 2021}), 201)
    auditor, county = as_credits("auditor", PROVINCE), as_credits("county_admin", COUNTY)
    for tid, (_, hours, fate) in zip(teachers, TEACHERS, strict=True):
        claim = await ok(await county.post("/v1/claims", json={
            "teacher_id": tid, "hours": hours, "category": "workshop", "source": "workshop",
            "earned_on": "2023-10-08", "evidence": "东教研〔2023〕12号"}), 201)
        if fate in ("approve", "revoke"):
            await ok(await auditor.post(f"/v1/claims/{claim['claim_id']}/approve", json={}))
        if fate == "revoke":
            await ok(await auditor.post(f"/v1/entries/{claim['claim_id']}/revoke", json={"reason": "证明材料不实"}))
    await at_head(credits_app, credits_app, "credits_compliance")  # reporting asks credits at query time
    await at_head(reporting_app, enrollment_app, "reporting_directory")


async def test_reporting_counts_the_teachers_meeting_the_target_as_credits_does(world, as_credits, as_role):
    theirs = await ok(await as_credits("county_admin", COUNTY).get(f"/v1/orgs/{COUNTY}/compliance",
                                                                   params={"year": 2023}))
    ours = await ok(await as_role("county_admin", COUNTY).get("/v1/reports/credits", params={"year": 2023}))
    assert (ours["total"]["teachers"], ours["total"]["meeting"], ours["total"]["without_policy"]) == (
        theirs["teachers"], theirs["meeting"], theirs["without_policy"]) == (4, 1, 0)
    assert [(i["region_code"], i["teachers"], i["meeting"]) for i in ours["items"]] == [
        (c["code"], c["teachers"], c["meeting"]) for c in theirs["children"]] == [(S1, 2, 1), (S2, 2, 0)]
    assert ours["total"]["hours"] == "100.0"  # 60 + 40 approved; 70 revoked; 65 still pending
