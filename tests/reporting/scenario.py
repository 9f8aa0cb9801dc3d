"""The acceptance scenario, driven through the real enrollment API with the calendar pinned:
one city (西安市), two counties (新城区 C1, 碑林区 C2), three hosts and three 2023 projects.

P1 national, host H1, 15–24 July (10 days, owes 2 bulletins), quotas C1 3, C2 2:
   C1 T1 completed ✓sat, T2 failed ✗sat, T3 replaced by T4 → completed ✓sat; C2 U1 completed ✓sat, U2 no-show.
   Bulletins 20 July and 5 August (due by 8 August): 2 on time. Close-out (due by 23 August):
   2 course videos received 10 August, H1's excellent case on 25 August (late).
P2 provincial, host H2, 1–20 August (20 days, owes 3), quotas C1 2, C2 3:
   C1 T5 completed ✓sat, T6 withdrawn; C2 U3 completed ✓sat, U4 completed ✗sat.
   Bulletins 10 August (on time) and 10 September (due by 4 September: late).
P3 municipal (organised by the city), host H3, 1–5 September (5 days, owes 2), quotas C1 2, C2 0:
   C1 T1 and T2 no-shows (with a special reason). One bulletin on 3 September.
"""

from __future__ import annotations

import uuid
from datetime import date

from shared.clock import shanghai_today
from tests.reporting.given import ok

PROVINCE, CITY, C1, C2 = "610000", "610100", "610102", "610103"
S1, S2 = "610102001", "610103001"
ORGS = [(PROVINCE, "陕西省", "province", None), (CITY, "西安市", "city", PROVINCE), (C1, "新城区", "county", CITY),
        (C2, "碑林区", "county", CITY), (S1, "新城区第一中学", "school", C1), (S2, "碑林区第一中学", "school", C2)]
HOSTS = {"H1": "陕西师范大学", "H2": "西安交通大学", "H3": "西安市教师发展中心"}
CATEGORY = "农村骨干教师分层分类培训"
MODULES = [{"name": "师德第一课", "hours": 6, "kind": "ethics"}, {"name": "课堂实践", "hours": 24, "practical": True}]
WEIGHTS, CHECK = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), "10X98765432"


def national_id(seq: int) -> str:
    body = f"610102198503{seq:02d}{100 + seq:03d}"  # born March 1985, GB 11643 check digit below
    return body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


class Scenario:
    def __init__(self, app, as_enrollment) -> None:
        self.app, self.as_role = app, as_enrollment
        self.today = date(2023, 6, 1)
        app.dependency_overrides[shanghai_today] = lambda: self.today
        self.province = as_enrollment("province_admin", PROVINCE)
        self.county = {C1: as_enrollment("county_admin", C1), C2: as_enrollment("county_admin", C2)}
        self.hosts = {k: str(uuid.uuid4()) for k in HOSTS}
        self.teachers: dict[str, str] = {}  # "T1" → teacher id
        self.projects: dict[str, str] = {}  # "P1" → project id
        self.enrollments: dict[tuple[str, str], str] = {}  # ("P1", "T1") → enrollment id

    async def post(self, client, url: str, body: dict | None = None, status: int = 200) -> dict:
        return await ok(await client.post(url, json=body), status)

    async def register(self) -> None:
        for code, name, kind, parent in ORGS:
            await ok(await self.province.put(f"/v1/orgs/{code}", json={"name": name, "kind": kind,
                                                                        "parent_code": parent}), 201)
        for key, name in HOSTS.items():
            await ok(await self.province.put(f"/v1/hosts/{self.hosts[key]}", json={
                "name": name, "province_code": PROVINCE}), 201)
        names = [("T", S1, 6), ("U", S2, 5)]
        seq = 0
        for prefix, school, n in names:
            for i in range(1, n + 1):
                seq += 1
                doc = await self.post(self.province, "/v1/teachers", {
                    "name": f"教师{seq}", "national_id": national_id(seq), "school_code": school, "subject": "语文",
                    "stage": "初中", "title": "一级教师", "hired_on": "2012-09-01"}, 201)
                self.teachers[f"{prefix}{i}"] = doc["id"]

    async def project(self, key: str, level: str, host: str, organizer: str, starts: str, ends: str, hours: int,
                      quotas: dict[str, int]) -> None:
        self.today = date(2023, 6, 1)
        pid = (await self.post(self.province, "/v1/projects", {
            "code": f"SX2023-{key}", "name": f"2023年{key}教师培训", "level": level, "category": CATEGORY,
            "year": 2023, "host_id": self.hosts[host], "organizer_code": organizer, "hours": hours,
            "hour_category": "centralized", "starts_on": starts, "ends_on": ends, "cross_year": False,
            "practical_ratio": 0.5, "modules": MODULES}, 201))["id"]
        for action in ("submit-plan", "approve"):
            await self.post(self.province, f"/v1/projects/{pid}/{action}")
        for region, places in quotas.items():
            await ok(await self.province.put(f"/v1/projects/{pid}/quotas/{region}", json={"places": places}))
        self.today = date(2023, 6, 15)  # the notice: the 国培 P1's nominations of 1 July fall in its 20 days
        await self.post(self.province, f"/v1/projects/{pid}/open")
        self.projects[key] = pid

    async def act(self, on: str, project: str, action: str, *teachers: str, body: dict | None = None) -> None:
        """On day `on`: nominate / check-in / complete / fail / no-show / withdraw / evaluate teachers."""
        self.today = date.fromisoformat(on)
        pid = self.projects[project]
        host = self.as_role("host", self.hosts[{"P1": "H1", "P2": "H2", "P3": "H3"}[project]])
        for t in teachers:
            region = C1 if t.startswith("T") else C2
            if action == "nominate":
                doc = await self.post(self.county[region], f"/v1/projects/{pid}/nominations",
                                      {"teacher_id": self.teachers[t], "region_code": region}, 201)
                self.enrollments[(project, t)] = doc["enrollment_id"]
                continue
            eid = self.enrollments[(project, t)]
            if action == "check-in":
                await self.post(self.as_role("teacher", sub=self.teachers[t]), f"/v1/enrollments/{eid}/check-in")
            elif action == "evaluation":
                await self.post(self.as_role("teacher", sub=self.teachers[t]), f"/v1/enrollments/{eid}/evaluation",
                                body)
            elif action in ("withdraw", "replace"):
                await self.post(self.county[region], f"/v1/enrollments/{eid}/{action}", body)
            else:
                await self.post(host, f"/v1/enrollments/{eid}/{action}", body)

    async def lifecycle(self, on: str, project: str, action: str) -> None:
        self.today = date.fromisoformat(on)
        await self.post(self.province, f"/v1/projects/{self.projects[project]}/{action}")

    async def bulletin(self, project: str, issue_no: int, on: str) -> None:
        self.today = date.fromisoformat(on)
        host = self.as_role("host", self.hosts[{"P1": "H1", "P2": "H2", "P3": "H3"}[project]])
        await self.post(host, f"/v1/projects/{self.projects[project]}/bulletins",
                        {"issue_no": issue_no, "title": f"工作简报第{issue_no}期", "published_on": on}, 201)

    async def close_out(self, project: str, kind: str, count: int, on: str) -> None:
        self.today = date.fromisoformat(on)
        host = self.as_role("host", self.hosts[{"P1": "H1", "P2": "H2", "P3": "H3"}[project]])
        await self.post(host, f"/v1/projects/{self.projects[project]}/close-out-materials",
                        {"kind": kind, "title": f"{project}总结材料", "count": count}, 201)


SAT, UNSAT = {"satisfied": True, "score": 5}, {"satisfied": False, "score": 2}
PASSED = {"kind": "final", "score": 85, "passed": True}


async def play(s: Scenario) -> None:
    """The story of the module docstring, in calendar order."""
    await s.register()
    await s.project("P1", "national", "H1", PROVINCE, "2023-07-15", "2023-07-24", 90, {C1: 3, C2: 2})
    await s.project("P2", "provincial", "H2", PROVINCE, "2023-08-01", "2023-08-20", 60, {C1: 2, C2: 3})
    await s.project("P3", "municipal", "H3", CITY, "2023-09-01", "2023-09-05", 30, {C1: 2, C2: 0})
    await s.act("2023-07-01", "P1", "nominate", "T1", "T2", "T3", "U1", "U2")
    await s.act("2023-07-01", "P2", "nominate", "T5", "T6", "U3", "U4")
    await s.act("2023-07-02", "P1", "replace", "T3", body={"teacher_id": s.teachers["T4"]})
    s.enrollments[("P1", "T4")] = s.enrollments[("P1", "T3")]
    await s.act("2023-07-15", "P1", "check-in", "T1", "T2", "T4", "U1")
    await s.lifecycle("2023-07-15", "P1", "start")
    await s.act("2023-07-20", "P1", "assessment", "T1", "T4", "U1", body=PASSED)
    await s.bulletin("P1", 1, "2023-07-20")
    await s.act("2023-07-24", "P1", "fail", "T2", body={"reason": "过程考核不合格"})
    await s.act("2023-07-24", "P1", "no-show", "U2", body={"special_reason": False})
    await s.act("2023-07-24", "P1", "complete", "T1", "T4", "U1")
    await s.act("2023-07-24", "P1", "evaluation", "T1", "T4", "U1", body=SAT)
    await s.act("2023-07-24", "P1", "evaluation", "T2", body=UNSAT)
    await s.lifecycle("2023-07-24", "P1", "close")
    await s.act("2023-07-25", "P2", "withdraw", "T6", body={"reason": "工作调动"})
    await s.bulletin("P1", 2, "2023-08-05")
    await s.act("2023-08-01", "P2", "check-in", "T5", "U3", "U4")
    await s.lifecycle("2023-08-01", "P2", "start")
    await s.bulletin("P2", 1, "2023-08-10")
    await s.close_out("P1", "course_video", 2, "2023-08-10")
    await s.act("2023-08-20", "P2", "complete", "T5", "U3", "U4")
    await s.act("2023-08-20", "P2", "evaluation", "T5", "U3", body=SAT)
    await s.act("2023-08-20", "P2", "evaluation", "U4", body=UNSAT)
    await s.lifecycle("2023-08-20", "P2", "close")
    await s.act("2023-08-21", "P3", "nominate", "T1", "T2")
    await s.close_out("P1", "case", 1, "2023-08-25")
    await s.lifecycle("2023-09-01", "P3", "start")
    await s.bulletin("P3", 1, "2023-09-03")
    await s.act("2023-09-05", "P3", "no-show", "T1", "T2", body={"special_reason": True})
    await s.lifecycle("2023-09-05", "P3", "close")
    await s.bulletin("P2", 2, "2023-09-10")
