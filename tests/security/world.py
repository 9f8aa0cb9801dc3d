"""A small world for the security tests, played through the four real services' APIs and carried
between them over real NATS: the objects every route's path parameters name.

Branch A, where every object lives, and its neighbours (each principal "outside" sits in one):

    610000 陕西省 ─ 610100 西安市 ─ 610102 新城区 ─ 610102001 school S (teacher T_A)
                 │               │             └ 610102002 school S2 (teacher T_B)
                 │               └ 610103 碑林区
                 └ 610200 铜川市
    (620000 甘肃省: only a token's org, never registered)

Project P_A is organised by county 610102, run by host H_A (H_B runs nothing of it), with a
quota for 610102; T_A is nominated (enrollment E_A), checks in and completes it, so credits awards
the hours (entry ENTRY_A), T_A's claim C_A waits for review and certificate CERT_NO is issued;
funding holds county 610102's budget, an allocation A_A to school S and a disbursement D_A.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import date

import httpx

from services.credits.config import CreditsSettings
from shared.clock import shanghai_today
from shared.devkeys import mint_token
from tests.conftest import eventually
from tests.funding.given import assessed

PROVINCE, CITY, COUNTY, SCHOOL = "610000", "610100", "610102", "610102001"
SCHOOL2, COUNTY2, CITY2, OTHER_PROVINCE = "610102002", "610103", "610200", "620000"
ORGS = [(PROVINCE, "陕西省", "province", None), (CITY, "西安市", "city", PROVINCE),
        (COUNTY, "新城区", "county", CITY), (COUNTY2, "碑林区", "county", CITY),
        (SCHOOL, "新城区第一中学", "school", COUNTY), (SCHOOL2, "新城区第二中学", "school", COUNTY),
        (CITY2, "铜川市", "city", PROVINCE)]
ROLES = ("province_admin", "city_admin", "county_admin", "school_admin", "auditor", "finance", "host", "teacher",
         "service", "ops")
WEIGHTS, CHECK = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), "10X98765432"


def national_id(seq: int, region: str = "610102", born: str = "19850301") -> str:
    """A valid GB 11643 number (check digit computed), distinct per `seq`."""
    body = f"{region}{born}{100 + seq:03d}"
    return body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


def client(app, base: str, keys_dir, role: str | None, org: str | None = None, sub: str | None = None,
           token: str | None = None, address: str = "127.0.0.1", hooks: dict | None = None) -> httpx.AsyncClient:
    if token is None and role is not None:
        token = mint_token(keys_dir, role, org=org, sub=sub or f"{role}-{org or 'x'}")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                             base_url=f"http://{base}", headers=headers, event_hooks=hooks)


async def ok(response: httpx.Response, *status: int) -> dict:
    assert response.status_code in (status or (200,)), f"{response.request.method} {response.request.url}: " \
                                                       f"{response.status_code} {response.text}"
    return response.json()


@dataclass
class World:
    apps: dict  # service name → running app
    keys_dir: object
    clock: dict = field(default_factory=lambda: {"enrollment": date(2023, 6, 20), "credits": date(2023, 10, 8)})
    host_a: str = field(default_factory=lambda: str(uuid.uuid4()))
    host_b: str = field(default_factory=lambda: str(uuid.uuid4()))
    ids: dict = field(default_factory=dict)  # T_A, T_B, P_A, E_A, C_A, ENTRY_A, CERT_NO, A_A, D_A
    hooks: dict | None = None  # httpx event hooks for every client (the PII scan records responses)

    def as_(self, service: str, role: str | None, org: str | None = None, sub: str | None = None,
            **kw) -> httpx.AsyncClient:
        return client(self.apps[service], service, self.keys_dir, role, org, sub, hooks=self.hooks, **kw)

    def pin_clocks(self) -> None:
        self.apps["enrollment"].dependency_overrides[shanghai_today] = lambda: self.clock["enrollment"]
        self.apps["credits"].dependency_overrides[shanghai_today] = lambda: self.clock["credits"]
        # Our own signing seed and keys folder (never the repository's .data), and a limit the
        # matrix's requests from one client address cannot reach.
        self.apps["credits"].state.credits_settings = CreditsSettings(
            signing_key=base64.b64encode(bytes(range(32))).decode(), keys_dir=self.keys_dir,
            verify_rate=1000.0, verify_burst=10_000)
        self.apps["credits"].state.credits_limiter = None
        self.apps["credits"].state.credits_signer = None


async def build(w: World) -> World:
    """Play the module docstring's story; returns `w` with its ids filled in."""
    w.pin_clocks()
    e = lambda role, org=None, sub=None: w.as_("enrollment", role, org, sub)  # noqa: E731
    province = e("province_admin", PROVINCE)
    county = e("county_admin", COUNTY)
    hostc = e("host", w.host_a)

    # Credits: the province's policy, in force from the 2022学年 (published on its first day).
    w.clock["credits"] = date(2022, 9, 1)
    await ok(await w.as_("credits", "province_admin", PROVINCE).put(f"/v1/policies/{PROVINCE}", json={
        "effective_from": "2022-09-01", "cycle_years": 5, "cycle_start_year": 2022, "hours_per_credit": 10,
        "annual_hours": 20, "cycle_hours": 100}), 201)
    w.clock["credits"] = date(2023, 10, 8)

    for code, name, kind, parent in ORGS:
        await ok(await province.put(f"/v1/orgs/{code}", json={"name": name, "kind": kind, "parent_code": parent}),
                 201)
    for hid, name in ((w.host_a, "陕西师范大学"), (w.host_b, "西安交通大学")):
        await ok(await province.put(f"/v1/hosts/{hid}", json={"name": name, "province_code": PROVINCE}), 201)
    for key, seq, school in (("T_A", 1, SCHOOL), ("T_B", 2, SCHOOL2)):
        w.ids[key] = (await ok(await province.post("/v1/teachers", json={
            "name": f"教师{seq}", "national_id": national_id(seq), "school_code": school, "subject": "语文",
            "stage": "初中", "title": "一级教师", "hired_on": "2010-09-01"}), 201))["id"]

    pid = (await ok(await county.post("/v1/projects", json=project_body(host_id=w.host_a)), 201))["id"]
    w.ids["P_A"] = pid
    await ok(await county.post(f"/v1/projects/{pid}/submit-plan"))
    await ok(await province.post(f"/v1/projects/{pid}/approve"))
    await ok(await county.put(f"/v1/projects/{pid}/quotas/{COUNTY}", json={"places": 3}))
    await ok(await county.post(f"/v1/projects/{pid}/open"))
    w.clock["enrollment"] = date(2023, 7, 1)
    w.ids["E_A"] = (await ok(await county.post(f"/v1/projects/{pid}/nominations", json={
        "teacher_id": w.ids["T_A"], "region_code": COUNTY}), 201))["enrollment_id"]
    w.clock["enrollment"] = date(2023, 7, 10)
    await ok(await hostc.post(f"/v1/enrollments/{w.ids['E_A']}/check-in"))
    await ok(await county.post(f"/v1/projects/{pid}/start"))
    w.clock["enrollment"] = date(2023, 7, 14)
    await ok(await hostc.post(f"/v1/enrollments/{w.ids['E_A']}/complete"))

    # Credits: the award arrives over NATS; then a claim and a certificate for the 2022学年.
    cpool = w.apps["credits"].state.pool
    tid = uuid.UUID(w.ids["T_A"])

    async def awarded() -> bool:
        return await cpool.fetchval("SELECT entry_id FROM entries WHERE teacher_id = $1", tid) is not None

    await eventually(awarded, timeout=60, message="credits awarding T_A's hours")
    w.ids["ENTRY_A"] = str(await cpool.fetchval("SELECT entry_id FROM entries WHERE teacher_id = $1", tid))
    teacher_a = w.as_("credits", "teacher", sub=w.ids["T_A"])
    w.ids["C_A"] = (await ok(await teacher_a.post("/v1/claims", json={
        "teacher_id": w.ids["T_A"], "hours": 5, "category": "centralized", "source": "workshop",
        "earned_on": "2023-09-15", "evidence": "校本研修档案 2023-017"}), 201))["claim_id"]
    w.ids["CERT_NO"] = (await ok(await teacher_a.post(f"/v1/teachers/{w.ids['T_A']}/certificates",
                                                      json={"year": 2022}), 201))["certificate_no"]

    # Funding: the org tree and the project arrive over NATS; the county declares and spends.
    fpool = w.apps["funding"].state.pool

    async def directory() -> bool:
        return bool(await fpool.fetchval("SELECT count(*) = 2 FROM orgs WHERE code = ANY($1)", [COUNTY, SCHOOL])
                    and await fpool.fetchval("SELECT true FROM projects WHERE id = $1", uuid.UUID(pid)))

    await eventually(directory, timeout=60, message="funding's directory")
    fprovince, fcounty = w.as_("funding", "province_admin", PROVINCE), w.as_("funding", "county_admin", COUNTY)
    await ok(await fprovince.put(f"/v1/policies/{PROVINCE}", json=funding_policy()), 201)
    await ok(await fcounty.put(f"/v1/orgs/{COUNTY}/budgets/2023", json=BUDGET), 201)
    w.ids["A_A"] = (await ok(await fcounty.post("/v1/allocations", json={
        "from_code": COUNTY, "to_code": SCHOOL, "year": 2023, "amount_fen": 100_000}), 201))["allocation_id"]
    w.ids["D_A"] = (await ok(await fcounty.post("/v1/disbursements", json={
        "org_code": COUNTY, "year": 2023, "project_id": pid, "amount_fen": 50_000, "purpose": "培训课时费"}),
        201))["disbursement_id"]
    await assessed(fpool)  # funding's verdicts, published in reaction, are all out

    # Reporting: until it knows the project.
    reporting = w.as_("reporting", "service")

    async def reported() -> bool:
        return (await reporting.get(f"/v1/reports/projects/{pid}")).status_code == 200

    await eventually(reported, timeout=60, message="reporting knowing P_A")
    return w


def project_body(**over) -> dict:
    return {"code": "XC2023-01", "name": "新城区 初中语文骨干教师培训", "level": "county", "category": "骨干教师培训",
            "year": 2023, "host_id": None, "organizer_code": COUNTY, "hours": 30, "hour_category": "centralized",
            "starts_on": "2023-07-10", "ends_on": "2023-07-14", "practical_ratio": 0.5,
            "modules": [{"name": "师德第一课", "hours": 6, "kind": "ethics"},
                        {"name": "课堂实践", "hours": 15, "practical": True}]} | over


def funding_policy() -> dict:
    return {"effective_from": "2023-01-01", "school_public_funds_share": "0.05",
            "district_payroll_share_min": "0.03", "pass_down_min": "0.7"}


BUDGET = {"public_funds_budget_fen": 100_000_000, "payroll_fen": 1_000_000_000, "training_budget_fen": 10_000_000}
