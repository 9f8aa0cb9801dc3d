"""Drives the real enrollment service over HTTP for the funding scenario: the Hangzhou district
(002) with three schools, a host, seven teachers, a provincial project from draft to open,
nominations within the district's quota and check-ins (报到) — so the funding service counts
participants from real TeacherCheckedIn events that travelled over NATS."""

from __future__ import annotations

import uuid
from datetime import date

from shared.clock import shanghai_today
from tests.funding.given import TREES, ok

PROVINCE, COUNTY = "330000", "330106"
S1, S2, S3 = "330106001", "330106002", "330106003"
WEIGHTS, CHECK = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), "10X98765432"


def national_id(seq: int) -> str:
    body = f"330106198503{seq:02d}{100 + seq:03d}"  # GB 11643 check digit below
    return body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


class Enrollment:
    """The enrollment side of the scenario, step by step, with the calendar pinned."""

    def __init__(self, app, as_enrollment) -> None:
        self.app, self.as_role = app, as_enrollment
        self.today = date(2023, 6, 20)
        app.dependency_overrides[shanghai_today] = lambda: self.today
        self.province = as_enrollment("province_admin", PROVINCE)
        self.county = as_enrollment("county_admin", COUNTY)
        self.host = str(uuid.uuid4())
        self.teachers: dict[str, list[str]] = {}
        self.enrollments: dict[str, str] = {}  # teacher → enrollment
        self.project_id = ""

    async def register(self) -> None:
        for code, name, kind, parent in [o for o in TREES["hangzhou"] if o[0] in (PROVINCE, "330100", COUNTY, S1, S2,
                                                                                   S3)]:
            await ok(await self.province.put(f"/v1/orgs/{code}", json={"name": name, "kind": kind,
                                                                        "parent_code": parent}), 201)
        await ok(await self.province.put(f"/v1/hosts/{self.host}", json={"name": "浙江师范大学",
                                                                          "province_code": PROVINCE}), 201)
        seq = 0
        for school, n in ((S1, 3), (S2, 2), (S3, 2)):
            for _ in range(n):
                seq += 1
                doc = await ok(await self.province.post("/v1/teachers", json={
                    "name": f"教师{seq}", "national_id": national_id(seq), "school_code": school, "subject": "语文",
                    "stage": "小学", "title": "一级教师", "hired_on": "2012-09-01"}), 201)
                self.teachers.setdefault(school, []).append(doc["id"])

    async def open_project(self, places: int) -> str:
        self.project_id = (await ok(await self.province.post("/v1/projects", json={
            "code": "ZJ2023-XH-01", "name": "西湖区教师数字化能力提升培训", "level": "provincial",
            "category": "中小学教师数字化能力提升培训", "year": 2023, "host_id": self.host, "organizer_code": PROVINCE,
            "hours": 90, "hour_category": "online", "starts_on": "2023-07-15", "ends_on": "2023-07-24",
            "cross_year": False, "practical_ratio": 0.5,
            "modules": [{"name": "师德第一课", "hours": 10, "kind": "ethics"},
                        {"name": "课堂实践", "hours": 45, "practical": True}]}), 201))["id"]
        for action in ("submit-plan", "approve"):
            await ok(await self.province.post(f"/v1/projects/{self.project_id}/{action}"))
        await ok(await self.province.put(f"/v1/projects/{self.project_id}/quotas/{COUNTY}", json={"places": places}))
        await ok(await self.province.post(f"/v1/projects/{self.project_id}/open"))
        return self.project_id

    async def nominate_all(self) -> None:
        self.today = date(2023, 7, 1)
        for tid in [t for ts in self.teachers.values() for t in ts]:
            doc = await ok(await self.county.post(f"/v1/projects/{self.project_id}/nominations",
                                                  json={"teacher_id": tid, "region_code": COUNTY}), 201)
            self.enrollments[tid] = doc["enrollment_id"]

    async def check_in(self, *teachers: str) -> None:
        self.today = date(2023, 7, 15)
        for tid in teachers:
            await ok(await self.as_role("teacher", sub=tid).post(f"/v1/enrollments/{self.enrollments[tid]}/check-in"))

    def close(self) -> None:
        self.app.dependency_overrides.pop(shanghai_today, None)
