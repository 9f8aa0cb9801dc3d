"""The authorization matrix: every route of every service × every role (and no token) × a
principal inside / outside the org subtree of the object the request names.

Routes are read from the running apps (`app.routes`, cross-checked with the OpenAPI document), so
a new endpoint fails `test_every_route_has_an_expectation` until it gets a row in MATRIX below.
Each row is what API.md and the route's code say (the code's docstrings state the rules).

Principals — the org "inside" holds the world's objects (tests/security/world.py), "outside" is a
neighbour at the same level, as close as the GB/T 2260 tree allows:

| role           | inside                 | outside                        |
|----------------|------------------------|--------------------------------|
| province_admin | 610000                 | 620000 (another province)      |
| city_admin     | 610100                 | 610200 (sibling city)          |
| county_admin   | 610102                 | 610103 (sibling county)        |
| school_admin   | 610102001 (school S)   | 610102002 (sibling school)     |
| auditor        | 610100                 | 610200                         |
| finance        | 610100                 | 610200                         |
| host           | H_A (runs project P_A) | H_B (another host)             |
| teacher        | T_A (sub; enrolled)    | T_B (another teacher)          |
| service        | (no org)               | (no org)                       |
| ops            | (no org)               | (no org)                       |

Outcomes: ok (neither 401 nor 403: a business 404/409/422 is fine, the matrix is about authn/z),
role (403 forbidden_role), scope (403 out_of_scope), self (403 self_approval), hidden (404: the
route does not confirm that an object outside the caller's reach exists), empty (200 with no
items: a list filtered to the caller's scope), rows (422 invalid_rows naming the jurisdiction:
the roster import refuses out-of-scope rows per line). "a/b" is inside/outside; one word is both.
Without a token every non-public route is 401 missing_token. The ops role (operators) passes only
the operators' endpoints (projections, rebuilds, reporting's lag): every command and every read of
business data refuses it (role, scope or hidden: it is not an admin of anything).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from shared.auth import ROLES
from tests.security.world import (
    BUDGET,
    CITY,
    CITY2,
    COUNTY,
    COUNTY2,
    OTHER_PROVINCE,
    PROVINCE,
    SCHOOL,
    SCHOOL2,
    World,
    funding_policy,
    national_id,
    project_body,
)

SERVICES = ("enrollment", "credits", "funding", "reporting")
PROBLEM = "application/problem+json"
GROUPS = {
    "admins": ("province_admin", "city_admin", "county_admin", "school_admin"),
    "region": ("province_admin", "city_admin", "county_admin"),
}


@dataclass(frozen=True)
class Probe:
    """One request for a route: `path` and `body` may name world ids as {T_A}, {P_A}, ..."""

    path: str
    json: Any = None
    csv: str | None = None
    cells: dict[str, tuple[str, str]] = field(default_factory=dict)
    public: bool = False


def probe(path: str, *, json: Any = None, csv: str | None = None, default: str = "role", **cells: str) -> Probe:
    """`default` for every role not named; a group name (admins, region) sets its roles, and a
    role named after it overrides the group. `finance` (财务, issue 20) is "role" unless named: it
    gets what it needs — funding's reads — and nothing more, whatever `default` says."""
    out = {r: default for r in ROLES} | {"finance": "role"}
    for key, value in cells.items():
        for role in GROUPS.get(key, (key,)):
            out[role] = value
    return Probe(path, json, csv, {r: tuple(v.split("/")) * (2 if "/" not in v else 1) for r, v in out.items()})


def public(path: str) -> Probe:
    return Probe(path, public=True)


OPS = {("GET", p): public(p) for p in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs",
                                       "/docs/oauth2-redirect", "/redoc")}
# The operators' endpoints (projections, rebuilds): system accounts and operators, no admin (issue 19).
OPERATORS = dict(service="ok", ops="ok")
PROJECTIONS = probe("/v1/projections", **OPERATORS)
# Dead letters over HTTP (shared/deadletter_api.py), in every service; a dead letter that does not
# exist is a 404 after the role check.
DEAD_LETTERS = {
    ("GET", "/v1/dead-letters"): probe("/v1/dead-letters?state=all", **OPERATORS),
    ("GET", "/v1/dead-letters/{dead_letter_id}"): probe("/v1/dead-letters/999999999", **OPERATORS),
    ("POST", "/v1/dead-letters/replay"): probe("/v1/dead-letters/replay", json={"stream_id": "x:y"}, **OPERATORS),
    ("POST", "/v1/dead-letters/{dead_letter_id}/replay"): probe("/v1/dead-letters/999999999/replay", **OPERATORS),
    ("POST", "/v1/dead-letters/{dead_letter_id}/discard"): probe(
        "/v1/dead-letters/999999999/discard", json={"reason": "测试"}, **OPERATORS),
}
# Issue 16: the published event schemas and the AsyncAPI document are public, as /openapi.json is
# (each service serves its own schemas; another service's name is a 404).
OPS |= {("GET", "/v1/asyncapi.json"): public("/v1/asyncapi.json"),
        ("GET", "/v1/events/schemas/{service}/{name}"): public("/v1/events/schemas/credits/hours_awarded.v2.json")}
# The feed carries every event of the service, whatever org it concerns: system-to-system only.
FEED = probe("/v1/events?after=0&limit=5", service="ok")

# Organizing project P_A (organizer 610102): admins whose subtree holds the organizer.
ORGANIZE = dict(region="ok/scope", school_admin="scope")
# Progress of enrollment E_A: P_A's host or an admin over its organizer (services/enrollment/handlers/access.py).
RUNNER = dict(region="ok/scope", school_admin="scope", host="ok/scope")
# Funding acts for an org only by that org's own administrator (services/funding/api/common.py).
OWN_COUNTY = dict(province_admin="role/scope", city_admin="role/scope", county_admin="ok/scope", school_admin="scope")
# Reads over a region code 610102 (funding accounts, credits compliance, reporting figures).
REGION_READ = dict(region="ok/scope", school_admin="scope", auditor="ok/scope", service="ok")
# Funding's figures and verdicts: finance (财务) reads them within its subtree too (issue 20).
FUNDING_READ = REGION_READ | dict(finance="ok/scope")

TEACHER = {"name": "新教师", "national_id": national_id(50), "school_code": SCHOOL, "subject": "数学", "stage": "初中",
           "title": "二级教师", "hired_on": "2020-09-01"}
ROSTER_CSV = ("姓名,身份证号,学校代码,学科,学段,职称,入职日期\n"
              f"导入教师,{national_id(60)},{SCHOOL},数学,初中,二级教师,2020-09-01\n")
CREDITS_POLICY = {"effective_from": "2023-09-01", "cycle_years": 5, "cycle_start_year": 2022,
                  "hours_per_credit": 10, "annual_hours": 20, "cycle_hours": 100}

MATRIX: dict[str, dict[tuple[str, str], Probe]] = {
    "enrollment": {
        **OPS, **DEAD_LETTERS, ("GET", "/v1/projections"): PROJECTIONS, ("GET", "/v1/events"): FEED,
        ("PUT", "/v1/orgs/{code}"): probe(f"/v1/orgs/{COUNTY}", json={
            "name": "新城区", "kind": "county", "parent_code": CITY}, region="ok/scope"),
        ("GET", "/v1/orgs/{code}"): probe(f"/v1/orgs/{SCHOOL}", default="scope", admins="ok/scope",
                                          auditor="ok/scope", service="ok"),
        # Like the roster import, a row outside the caller's jurisdiction is refused by line.
        ("POST", "/v1/orgs/import"): probe("/v1/orgs/import", csv=f"机构代码,机构名称\n{COUNTY}099,授权矩阵小学\n",
                                           region="ok/rows"),
        ("GET", "/v1/orgs"): probe(f"/v1/orgs?parent_code={COUNTY}", default="scope", region="ok/scope",
                                   auditor="ok/scope", service="ok"),
        ("PUT", "/v1/hosts/{host_id}"): probe("/v1/hosts/{H_A}", json={
            "name": "陕西师范大学", "province_code": PROVINCE}, province_admin="ok/scope"),
        # Every admin in the host's province (or above) reads it: they nominate to its projects.
        ("GET", "/v1/hosts/{host_id}"): probe("/v1/hosts/{H_A}", default="ok", province_admin="ok/scope",
                                              host="ok/scope", teacher="role", ops="role"),
        ("POST", "/v1/teachers"): probe("/v1/teachers", json=TEACHER, admins="ok/scope"),
        ("POST", "/v1/teachers/import"): probe("/v1/teachers/import", csv=ROSTER_CSV, admins="ok/rows"),
        ("GET", "/v1/teachers/{teacher_id}"): probe("/v1/teachers/{T_A}", admins="ok/scope", auditor="ok/scope",
                                                    teacher="ok/scope", service="ok"),
        # A region's roster read back (names, masked ID numbers): its admins and auditors, by subtree.
        **{("GET", f"/v1/orgs/{{code}}/teachers{ext}"): probe(f"/v1/orgs/{SCHOOL}/teachers{ext}", admins="ok/scope",
                                                               auditor="ok/scope", service="ok")
           for ext in ("", ".csv", ".xlsx")},
        ("POST", "/v1/projects"): probe("/v1/projects", json=project_body(code="XC2023-99"), **ORGANIZE),
        **{("POST", f"/v1/projects/{{project_id}}/{a}"): probe(f"/v1/projects/{{P_A}}/{a}", **ORGANIZE)
           for a in ("open", "start", "close")},
        # P_A's host files its plan (004 §3.2); another host may not.
        ("POST", "/v1/projects/{project_id}/submit-plan"): probe("/v1/projects/{P_A}/submit-plan", **ORGANIZE,
                                                                 host="ok/scope"),
        # 方案审核备案 is review by a higher level: the organizer's own admin may not approve.
        ("POST", "/v1/projects/{project_id}/approve"): probe(
            "/v1/projects/{P_A}/approve", **ORGANIZE, county_admin="self/scope"),
        ("POST", "/v1/projects/{project_id}/cancel"): probe("/v1/projects/{P_A}/cancel", json={"reason": "测试"},
                                                            **ORGANIZE),
        ("PUT", "/v1/projects/{project_id}/quotas/{region_code}"): probe(
            f"/v1/projects/{{P_A}}/quotas/{COUNTY}", json={"places": 3}, **ORGANIZE),
        ("POST", "/v1/projects/{project_id}/bulletins"): probe("/v1/projects/{P_A}/bulletins", json={
            "issue_no": 1, "title": "工作简报第1期", "published_on": "2023-07-12"}, **ORGANIZE, host="ok/scope"),
        # 004 §2.2: a city splits its own places among its counties; only the city's own admin.
        ("PUT", "/v1/projects/{project_id}/quotas/{city_code}/splits/{county_code}"): probe(
            f"/v1/projects/{{P_A}}/quotas/{CITY}/splits/{COUNTY}", json={"places": 1}, city_admin="ok/scope"),
        # 004 §3.3 close-out materials: recorded as bulletins are, read as the project is.
        ("POST", "/v1/projects/{project_id}/close-out-materials"): probe(
            "/v1/projects/{P_A}/close-out-materials", json={"kind": "case", "title": "优秀工作案例"}, **ORGANIZE,
            host="ok/scope"),
        ("GET", "/v1/projects/{project_id}/close-out-materials"): probe("/v1/projects/{P_A}/close-out-materials",
                                                                        default="ok", host="ok/hidden"),
        # Projects are published notices: every signed-in role reads them, a host only its own.
        ("GET", "/v1/projects/{project_id}"): probe("/v1/projects/{P_A}", default="ok", host="ok/hidden"),
        ("GET", "/v1/projects"): probe("/v1/projects?year=2023", default="ok"),
        ("POST", "/v1/projects/{project_id}/nominations"): probe("/v1/projects/{P_A}/nominations", json={
            "teacher_id": "{T_A}", "region_code": COUNTY}, region="ok/scope"),
        # A teacher who does not exist: authorized callers get a 404 after the check, E_A stays T_A's.
        ("POST", "/v1/enrollments/{enrollment_id}/replace"): probe("/v1/enrollments/{E_A}/replace", json={
            "teacher_id": "00000000-0000-4000-8000-000000000000"}, region="ok/scope"),
        ("POST", "/v1/enrollments/{enrollment_id}/withdraw"): probe("/v1/enrollments/{E_A}/withdraw",
                                                                    json={"reason": "测试"}, region="ok/scope"),
        # The admin of the teacher's school too (issue 20: T_A teaches at SCHOOL).
        ("POST", "/v1/enrollments/{enrollment_id}/check-in"): probe(
            "/v1/enrollments/{E_A}/check-in", **(RUNNER | {"school_admin": "ok/scope"}), teacher="ok/scope"),
        ("POST", "/v1/enrollments/{enrollment_id}/attendance"): probe("/v1/enrollments/{E_A}/attendance", json={
            "session_date": "2023-07-11", "status": "present", "hours": 6}, **RUNNER),
        ("POST", "/v1/enrollments/{enrollment_id}/assessment"): probe("/v1/enrollments/{E_A}/assessment", json={
            "kind": "final", "score": 90, "passed": True}, **RUNNER),
        ("POST", "/v1/enrollments/{enrollment_id}/complete"): probe("/v1/enrollments/{E_A}/complete", **RUNNER),
        ("POST", "/v1/enrollments/{enrollment_id}/fail"): probe("/v1/enrollments/{E_A}/fail",
                                                                json={"reason": "测试"}, **RUNNER),
        ("POST", "/v1/enrollments/{enrollment_id}/no-show"): probe("/v1/enrollments/{E_A}/no-show",
                                                                   json={"special_reason": True}, **RUNNER),
        ("GET", "/v1/projects/{project_id}/sign-in-sheet"): probe("/v1/projects/{P_A}/sign-in-sheet", **RUNNER),
        ("POST", "/v1/projects/{project_id}/check-in-codes"): probe(
            "/v1/projects/{P_A}/check-in-codes", json={"session_date": "2023-07-11"}, **RUNNER),
        # Any teacher may post a code; an unreadable one is a 422 after the role check.
        ("POST", "/v1/check-ins"): probe("/v1/check-ins", json={"code": "x" * 40}, teacher="ok"),
        # E_A completed: an authorized caller gets 409 not_no_show after the check.
        ("POST", "/v1/enrollments/{enrollment_id}/no-show/special-reason"): probe(
            "/v1/enrollments/{E_A}/no-show/special-reason", json={"reason": "测试"}, region="ok/scope"),
        ("PUT", "/v1/policies/{jurisdiction_code}"): probe(f"/v1/policies/{COUNTY}", json={
            "effective_from": "2030-01-01"}, region="ok/scope"),
        ("GET", "/v1/policies/{jurisdiction_code}"): probe(f"/v1/policies/{COUNTY}", default="ok"),
        ("POST", "/v1/enrollments/{enrollment_id}/evaluation"): probe("/v1/enrollments/{E_A}/evaluation", json={
            "satisfied": True, "score": 5, "comment": "很好"}, teacher="ok/scope"),
        ("POST", "/v1/projects/{project_id}/attendance/import"): probe(
            "/v1/projects/{P_A}/attendance/import", csv="enrollment_id,session_date,status,hours\n"
                                                        "{E_A},2023-07-11,present,6\n", **RUNNER),
        ("GET", "/v1/enrollments/{enrollment_id}"): probe("/v1/enrollments/{E_A}", region="ok/scope",
                                                          school_admin="ok/scope", auditor="ok/scope", host="ok/scope",
                                                          teacher="ok/scope", service="ok", ops="scope"),
        ("GET", "/v1/enrollments"): probe("/v1/enrollments?project_id={P_A}", default="ok/empty", service="ok",
                                          ops="scope"),
        # The eligibility preview: who may nominate for the region (services/enrollment/api/eligibility.py).
        ("GET", "/v1/projects/{project_id}/eligibility"): probe(
            f"/v1/projects/{{P_A}}/eligibility?teacher_id={{T_A}}&region_code={COUNTY}", region="ok/scope"),
        ("GET", "/v1/projects/{project_id}/eligibility/roster"): probe(
            f"/v1/projects/{{P_A}}/eligibility/roster?region_code={COUNTY}", region="ok/scope"),
        # The teacher's own, by the token's sub: every teacher has one, no other role.
        ("GET", "/v1/me/enrollments"): probe("/v1/me/enrollments", teacher="ok"),
        # Leave (请假, 002 §4.1.3; services/enrollment/api/leave.py): asked by the teacher or recorded by
        # P_A's host; approved or refused by the host or an admin over the organizer (E_A completed
        # and without a request: an authorized caller gets 409/404 after the check); read as E_A is.
        ("POST", "/v1/enrollments/{enrollment_id}/leave-requests"): probe(
            "/v1/enrollments/{E_A}/leave-requests", json={"session_date": "2023-07-11", "reason": "测试"},
            teacher="ok/scope", host="ok/scope"),
        **{("POST", f"/v1/enrollments/{{enrollment_id}}/leave-requests/{{session_date}}/{act}"): probe(
            f"/v1/enrollments/{{E_A}}/leave-requests/2023-07-11/{act}", json={"reason": "测试"}, **RUNNER)
           for act in ("approve", "reject")},
        ("GET", "/v1/enrollments/{enrollment_id}/leave-requests"): probe(
            "/v1/enrollments/{E_A}/leave-requests", region="ok/scope", school_admin="ok/scope", auditor="ok/scope",
            host="ok/scope", teacher="ok/scope", service="ok", ops="scope"),
    },
    "credits": {
        **OPS, **DEAD_LETTERS, ("GET", "/v1/projections"): PROJECTIONS, ("GET", "/v1/events"): FEED,
        ("PUT", "/v1/policies/{jurisdiction_code}"): probe(f"/v1/policies/{COUNTY}", json=CREDITS_POLICY,
                                                           region="ok/scope"),
        ("GET", "/v1/policies/{jurisdiction_code}"): probe(f"/v1/policies/{COUNTY}", default="ok"),
        ("GET", "/v1/teachers/{teacher_id}/transcript"): probe(
            "/v1/teachers/{T_A}/transcript", admins="ok/scope", auditor="ok/scope", teacher="ok/scope",
            host="scope", service="ok", ops="scope"),
        ("POST", "/v1/claims"): probe("/v1/claims", json={
            "teacher_id": "{T_A}", "hours": 2, "category": "centralized", "source": "workshop",
            "earned_on": "2023-09-20", "evidence": "校本研修档案 2023-018"}, admins="ok/scope", teacher="ok/scope"),
        ("POST", "/v1/claims/{claim_id}/approve"): probe("/v1/claims/{C_A}/approve", json={}, auditor="ok/scope"),
        ("POST", "/v1/claims/{claim_id}/reject"): probe("/v1/claims/{C_A}/reject", json={"reason": "测试"},
                                                        auditor="ok/scope"),
        ("GET", "/v1/claims/{claim_id}"): probe("/v1/claims/{C_A}", admins="ok/scope", auditor="ok/scope",
                                                teacher="ok/hidden", host="hidden", service="ok", ops="hidden"),
        ("GET", "/v1/claims"): probe("/v1/claims?teacher_id={T_A}", default="ok/empty", host="role", service="ok",
                                     ops="role"),
        ("POST", "/v1/entries/{entry_id}/revoke"): probe("/v1/entries/{ENTRY_A}/revoke", json={"reason": "测试"},
                                                         region="ok/scope", auditor="ok/scope"),
        ("GET", "/v1/entries/{entry_id}"): probe("/v1/entries/{ENTRY_A}", admins="ok/scope", auditor="ok/scope",
                                                 teacher="ok/scope", host="scope", service="ok", ops="scope"),
        ("GET", "/v1/orgs/{code}/compliance"): probe(f"/v1/orgs/{COUNTY}/compliance?year=2023", **REGION_READ),
        ("GET", "/v1/compliance/schools"): probe(f"/v1/compliance/schools?year=2023&region_code={COUNTY}",
                                                 **REGION_READ),
        # Teachers short of hours: read over the caller's subtree, as compliance is (api/shortfall.py).
        **{("GET", f"/v1/orgs/{{code}}/short-of-hours{ext}"): probe(
            f"/v1/orgs/{COUNTY}/short-of-hours{ext}?year=2023", **REGION_READ) for ext in ("", ".csv", ".xlsx")},
        # Reminders: the levels that run training, over their own subtree.
        ("POST", "/v1/reminders/short-of-hours"): probe("/v1/reminders/short-of-hours", json={
            "org_code": COUNTY, "year": 2023}, region="ok/scope"),
        # Service accounts read, never issue (services/credits/api/certificates.py).
        ("POST", "/v1/teachers/{teacher_id}/certificates"): probe(
            "/v1/teachers/{T_A}/certificates", json={"year": 2022}, admins="ok/scope", auditor="ok/scope",
            teacher="ok/scope"),
        ("GET", "/v1/certificates/keys"): public("/v1/certificates/keys"),
        ("GET", "/v1/certificates/{certificate_no}"): public("/v1/certificates/{CERT_NO}"),
        ("POST", "/v1/admin/rebuild"): probe("/v1/admin/rebuild", json={"models": ["compliance"]}, **OPERATORS),
        ("GET", "/v1/me/transcript"): probe("/v1/me/transcript", teacher="ok"),
        ("GET", "/v1/me/certificates"): probe("/v1/me/certificates", teacher="ok"),
    },
    "funding": {
        **OPS, **DEAD_LETTERS, ("GET", "/v1/projections"): PROJECTIONS, ("GET", "/v1/events"): FEED,
        ("PUT", "/v1/policies/{jurisdiction_code}"): probe(f"/v1/policies/{COUNTY}", json=funding_policy(),
                                                           region="ok/scope"),
        ("GET", "/v1/policies/{jurisdiction_code}"): probe(f"/v1/policies/{PROVINCE}", default="ok", finance="ok"),
        ("PUT", "/v1/orgs/{code}/budgets/{year}"): probe(f"/v1/orgs/{COUNTY}/budgets/2023", json=BUDGET,
                                                         **OWN_COUNTY),
        ("GET", "/v1/orgs/{code}/budgets/{year}"): probe(f"/v1/orgs/{COUNTY}/budgets/2023", **FUNDING_READ),
        ("POST", "/v1/allocations"): probe("/v1/allocations", json={
            "from_code": COUNTY, "to_code": SCHOOL, "year": 2023, "amount_fen": 100}, **OWN_COUNTY),
        ("POST", "/v1/disbursements"): probe("/v1/disbursements", json={
            "org_code": COUNTY, "year": 2023, "amount_fen": 100, "purpose": "教材资料费"}, **OWN_COUNTY),
        ("POST", "/v1/allocations/{allocation_id}/reverse"): probe("/v1/allocations/{A_A}/reverse",
                                                                   json={"reason": "测试"}, **OWN_COUNTY),
        ("POST", "/v1/disbursements/{disbursement_id}/reverse"): probe("/v1/disbursements/{D_A}/reverse",
                                                                       json={"reason": "测试"}, **OWN_COUNTY),
        # Entries outside the caller's reach are 404, not 403: their existence is not confirmed.
        ("GET", "/v1/allocations/{allocation_id}"): probe("/v1/allocations/{A_A}", admins="ok/hidden",
                                                          auditor="ok/hidden", finance="ok/hidden", service="ok"),
        ("GET", "/v1/disbursements/{disbursement_id}"): probe("/v1/disbursements/{D_A}", region="ok/hidden",
                                                              school_admin="hidden", auditor="ok/hidden",
                                                              finance="ok/hidden", service="ok"),
        # A list filtered to the caller's part (the host's own, a county's own): never a 403 for readers.
        ("GET", "/v1/settlements"): probe("/v1/settlements?project_id={P_A}", admins="ok", auditor="ok", host="ok",
                                          finance="ok", service="ok"),
        ("POST", "/v1/settlements"): probe("/v1/settlements", json={
            "project_id": "{P_A}", "county_code": COUNTY, "fee_per_participant_fen": 100}, county_admin="ok/scope"),
        ("GET", "/v1/orgs/{code}/funding"): probe(f"/v1/orgs/{COUNTY}/funding?year=2023", **FUNDING_READ),
        ("GET", "/v1/orgs/{code}/funding/projects"): probe(f"/v1/orgs/{COUNTY}/funding/projects?year=2023",
                                                           **FUNDING_READ),
        ("GET", "/v1/orgs/{code}/funding/entries"): probe(f"/v1/orgs/{COUNTY}/funding/entries?year=2023",
                                                          **FUNDING_READ),
        ("GET", "/v1/funding/orgs"): probe(f"/v1/funding/orgs?year=2023&region_code={COUNTY}", **FUNDING_READ),
    },
    "reporting": {
        **OPS, **DEAD_LETTERS, ("GET", "/v1/projections"): PROJECTIONS,
        ("GET", "/v1/reports/lag"): probe("/v1/reports/lag", default="ok", teacher="role"),
        ("POST", "/v1/admin/rebuild"): probe("/v1/admin/rebuild", json={
            "source": "stream", "models": ["reporting_funding"]}, **OPERATORS),
        ("GET", "/v1/reports/funding"): probe(f"/v1/reports/funding?year=2023&region_code={COUNTY}", **FUNDING_READ),
        ("GET", "/v1/reports/credits"): probe(f"/v1/reports/credits?year=2023&region_code={COUNTY}", **REGION_READ),
        ("GET", "/v1/reports/notices"): probe(f"/v1/reports/notices?year=2023&min_rate=0.5&parent_code={COUNTY}",
                                              **REGION_READ),
        ("GET", "/v1/reports/quota-suggestions"): probe(
            f"/v1/reports/quota-suggestions?year=2023&places=10&parent_code={COUNTY}", **REGION_READ),
        # A host reads only its own projects' figures, in every region: no region limit, filtered.
        **{("GET", p): probe(f"{p}?year=2023&{q}={COUNTY}", **REGION_READ, host="ok")
           for p, q in (("/v1/reports/rates", "region_code"), ("/v1/reports/rates.csv", "region_code"),
                        ("/v1/reports/rates.xlsx", "region_code"), ("/v1/reports/regions", "parent_code"),
                        ("/dashboard", "region_code"))},
        # The dashboard's export route, as the matrix spells its path; a browser's session cookie
        # carries the same JWT (shared/session.py), so the same cells hold.
        ("GET", "/dashboard/export/{table}.{ext}"): probe(f"/dashboard/export/by-region.csv?year=2023&region_code="
                                                          f"{COUNTY}", **REGION_READ, host="ok"),
        # Signing in is public: a form, a verified token turned into a cookie, and (dev profile only,
        # 404 here) the dev key's role-and-org picker.
        ("GET", "/signin"): public("/signin"), ("POST", "/signin"): public("/signin"),
        ("POST", "/signin/dev"): public("/signin/dev"), ("POST", "/signout"): public("/signout"),
        ("GET", "/v1/reports/hosts"): probe("/v1/reports/hosts?year=2023", default="ok", teacher="role", ops="role"),
        ("GET", "/v1/reports/projects/{project_id}"): probe("/v1/reports/projects/{P_A}", **REGION_READ,
                                                            host="ok/hidden"),
    },
}


def app_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route an app serves, through included routers (HEAD is GET's)."""
    out: set[tuple[str, str]] = set()

    def walk(routes, prefix: str) -> None:
        for r in routes:
            original = getattr(r, "original_router", None)  # FastAPI's included router
            if original is not None:
                walk(original.routes, prefix + (getattr(r.include_context, "prefix", "") or ""))
            elif getattr(r, "methods", None) is None and hasattr(r, "routes"):  # a Mount
                walk(r.routes, prefix + r.path)
            else:
                out.update((m, prefix + r.path) for m in r.methods - {"HEAD"})

    walk(app.routes, "")
    return out


def _module_apps() -> dict:
    return {s: importlib.import_module(f"services.{s}.main").app for s in SERVICES}


CASES = sorted({(s, m, p) for s, app in _module_apps().items() for m, p in app_routes(app)}
               | {(s, m, p) for s, rows in MATRIX.items() for m, p in rows})


def test_every_route_has_an_expectation():
    missing, stale = [], []
    for service, app in _module_apps().items():
        served = app_routes(app)
        documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
        assert documented <= served, f"{service}: OpenAPI paths the walker missed: {documented - served}"
        missing += [f"{service} {m} {p}" for m, p in sorted(served - set(MATRIX[service]))]
        stale += [f"{service} {m} {p}" for m, p in sorted(set(MATRIX[service]) - served)]
    assert not missing, "routes without a row in MATRIX (add who may call them):\n" + "\n".join(missing)
    assert not stale, "rows in MATRIX for routes no service serves:\n" + "\n".join(stale)
    assert all(set(p.cells) == set(ROLES) for rows in MATRIX.values() for p in rows.values() if not p.public)


def principal(w: World, role: str, where: str) -> tuple[str | None, str | None]:
    """(org, sub) of the role's principal inside / outside."""
    inside = where == "inside"
    if role == "host":
        return (w.host_a if inside else w.host_b), None
    if role == "teacher":
        return None, w.ids["T_A" if inside else "T_B"]
    orgs = {"province_admin": (PROVINCE, OTHER_PROVINCE), "city_admin": (CITY, CITY2),
            "county_admin": (COUNTY, COUNTY2), "school_admin": (SCHOOL, SCHOOL2), "auditor": (CITY, CITY2),
            "finance": (CITY, CITY2),
            "service": (None, None), "ops": (None, None)}
    return orgs[role][0 if inside else 1], None


def fill(template: Any, w: World) -> Any:
    ids = {**w.ids, "H_A": w.host_a, "H_B": w.host_b}
    if isinstance(template, str):
        for k, v in ids.items():
            template = template.replace("{" + k + "}", v)
        return template
    if isinstance(template, dict):
        return {k: fill(v, w) for k, v in template.items()}
    return template


async def send(c: httpx.AsyncClient, method: str, p: Probe, w: World) -> httpx.Response:
    kw: dict[str, Any] = {}
    if p.csv is not None:
        kw = {"content": fill(p.csv, w).encode(), "headers": {"Content-Type": "text/csv"}}
    elif p.json is not None:
        kw = {"json": fill(p.json, w)}
    return await c.request(method, fill(p.path, w), **kw)


def judge(r: httpx.Response, outcome: str) -> str | None:
    """None if the response is of the outcome class, else why not."""
    is_problem = r.headers.get("content-type", "").startswith(PROBLEM)
    code = r.json().get("code") if is_problem else None
    if outcome == "ok":
        if r.status_code in (401, 403) or r.status_code >= 500:
            return f"{r.status_code} {code}"
        if r.status_code == 422 and "jurisdiction" in r.text:
            return f"422 naming the jurisdiction: {r.text[:200]}"
        return None
    if outcome == "empty":
        return None if r.status_code == 200 and r.json().get("items") == [] else f"{r.status_code} {r.text[:200]}"
    if outcome == "rows":
        ok = r.status_code == 422 and code == "invalid_rows" and any(
            "jurisdiction" in e["reason"] for e in r.json().get("errors", []))
        return None if ok else f"{r.status_code} {r.text[:200]}"
    wanted = {"role": (403, "forbidden_role"), "scope": (403, "out_of_scope"), "self": (403, "self_approval"),
              "hidden": (404, None)}[outcome]
    if r.status_code != wanted[0] or not is_problem or (wanted[1] and code != wanted[1]):
        return f"{r.status_code} {code or r.text[:120]}"
    return None


@pytest.mark.parametrize(("service", "method", "path"), CASES, ids=[f"{s} {m} {p}" for s, m, p in CASES])
async def test_route(world, service, method, path):
    p = MATRIX.get(service, {}).get((method, path))
    assert p is not None, f"no expectation for {service} {method} {path}: add a row to MATRIX"
    anonymous = await send(world.as_(service, None), method, p, world)
    if p.public:
        assert anonymous.status_code < 400 or anonymous.status_code == 404, anonymous.text
        return
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["content-type"].startswith(PROBLEM) and anonymous.json()["code"] == "missing_token"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    wrong = []
    for role in ROLES:
        for where, outcome in zip(("inside", "outside"), p.cells[role], strict=True):
            org, sub = principal(world, role, where)
            r = await send(world.as_(service, role, org, sub), method, p, world)
            if (why := judge(r, outcome)) is not None:
                wrong.append(f"{role:>14} {where:<7} expected {outcome:<6} got {why}")
    assert not wrong, f"{service} {method} {path}:\n" + "\n".join(wrong)

