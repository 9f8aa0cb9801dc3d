"""The world the enrollment figures run in, built through the public API: an org tree, a host,
teachers imported by CSV, and an open 国培 project with room for all of them.

`World` carries what the later figures need (ids, tokens, the enrollments and their state)."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx

from bench.people import national_id
from shared.devkeys import mint_token

COUNTY, CITY, PROVINCE, SCHOOL = "610102", "610100", "610000", "610102001"
ROSTER_HEADINGS = ["name", "national_id", "school_code", "subject", "stage", "title", "hired_on"]


def roster_rows(start: int, count: int) -> list[list[str]]:
    return [[f"教师{i}", national_id(i), SCHOOL, "数学", "小学", "一级教师", "2015-09-01"]
            for i in range(start, start + count)]


def csv_bytes(headings: list[str] | None, rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    if headings:
        writer.writerow(headings)
    writer.writerows(rows)
    return out.getvalue().encode()


def project_dates(today: date) -> tuple[date, date]:
    # Plans go in ≥ 10 days before start (004 §3.2); single-year projects end by 20 December.
    start = today + timedelta(days=12)
    if (start + timedelta(days=4)) > date(start.year, 12, 20):
        start = date(start.year + 1, 3, 1)
    return start, start + timedelta(days=4)


@dataclass
class World:
    url: str  # the enrollment service
    db: str  # its database (read-only look-ups: which enrollments exist)
    keys: Path
    host_id: str = ""
    project_id: str = ""
    starts_on: date = date.min
    teachers: list[str] = field(default_factory=list)  # imported, in order
    next_teacher: int = 0  # teachers[:next_teacher] have been nominated
    imported: int = 0  # national-id sequence numbers used so far
    checked_in: list[tuple[str, str]] = field(default_factory=list)  # (enrollment id, teacher id), not completed

    def auth(self, role: str, org: str | None = None, sub: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.keys, role, org=org, sub=sub)}"}

    @property
    def province(self) -> dict[str, str]:
        return self.auth("province_admin", PROVINCE)

    def take_teachers(self, n: int) -> list[str]:
        if self.next_teacher + n > len(self.teachers):
            raise RuntimeError(f"need {n} more teachers, {len(self.teachers) - self.next_teacher} left")
        out = self.teachers[self.next_teacher:self.next_teacher + n]
        self.next_teacher += n
        return out

    async def enrollments(self, teacher_ids: list[str]) -> list[tuple[str, str]]:
        """(enrollment id, teacher id) of these teachers' enrollments in the project, in their order."""
        conn = await asyncpg.connect(self.db)
        try:
            rows = await conn.fetch("SELECT id, teacher_id FROM enrollments WHERE project_id = $1 "
                                    "AND teacher_id = ANY($2::uuid[])", uuid.UUID(self.project_id), teacher_ids)
        finally:
            await conn.close()
        by_teacher = {str(r["teacher_id"]): str(r["id"]) for r in rows}
        return [(by_teacher[t], t) for t in teacher_ids if t in by_teacher]


async def org_tree(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.url, timeout=60) as client:
        for code, name, kind, parent in [
                (PROVINCE, "陕西省", "province", None), (CITY, "西安市", "city", PROVINCE),
                (COUNTY, "新城区", "county", CITY), (SCHOOL, "新城区第一小学", "school", COUNTY)]:
            (await client.put(f"/v1/orgs/{code}", json={"name": name, "kind": kind, "parent_code": parent},
                              headers=world.province)).raise_for_status()
        world.host_id = str(uuid.uuid4())
        (await client.put(f"/v1/hosts/{world.host_id}", json={"name": "陕西师范大学", "province_code": PROVINCE},
                          headers=world.province)).raise_for_status()


def roster_csv(world: World, count: int) -> bytes:
    """The next `count` new teachers as a roster CSV (each national ID used once per world)."""
    body = csv_bytes(ROSTER_HEADINGS, roster_rows(world.imported, count))
    world.imported += count
    return body


async def import_roster(world: World, count: int, body: bytes | None = None) -> list[str]:
    """Import `count` new teachers in one CSV (`body`, made by roster_csv, or made here); returns
    their ids (also appended to world.teachers)."""
    body = roster_csv(world, count) if body is None else body
    async with httpx.AsyncClient(base_url=world.url, timeout=600) as client:
        r = await client.post("/v1/teachers/import", content=body,
                              headers={**world.province, "Content-Type": "text/csv"})
    r.raise_for_status()
    ids = r.json()["teacher_ids"]
    world.teachers += ids
    return ids


async def ensure_teachers(world: World, n: int) -> None:
    """Import (unmeasured) whatever the next `n` nominations lack."""
    left = len(world.teachers) - world.next_teacher
    if left < n:
        await import_roster(world, n - left)


async def open_project(world: World, places: int) -> None:
    starts, ends = project_dates(date.today())
    world.starts_on = starts
    prov = world.province
    async with httpx.AsyncClient(base_url=world.url, timeout=60) as client:
        project = await client.post("/v1/projects", headers=prov, json={
            "code": f"GP-{uuid.uuid4().hex[:8]}", "name": "国培计划·农村骨干教师培训", "level": "national",
            "category": "农村骨干教师分层分类培训", "year": starts.year, "host_id": world.host_id,
            "organizer_code": PROVINCE, "hours": 30, "hour_category": "centralized", "starts_on": starts.isoformat(),
            "ends_on": ends.isoformat(), "cross_year": False, "practical_ratio": 0.6,
            "modules": [{"name": "师德第一课", "hours": 3, "kind": "ethics"},
                        {"name": "课堂实践", "hours": 27, "practical": True}]})
        project.raise_for_status()
        world.project_id = project.json()["id"]
        for step in ("submit-plan", "approve", "open"):
            (await client.post(f"/v1/projects/{world.project_id}/{step}", headers=prov)).raise_for_status()
        (await client.put(f"/v1/projects/{world.project_id}/quotas/{COUNTY}", json={"places": places},
                          headers=prov)).raise_for_status()


async def start_project(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.url, timeout=60) as client:
        (await client.post(f"/v1/projects/{world.project_id}/start", headers=world.province)).raise_for_status()
