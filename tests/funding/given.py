"""Given-events seeding for funding tests.

`Upstream` plays the enrollment service: it builds enrollment envelopes (numbered per stream,
as the real store numbers them) and hands them to the funding service's own projections
through the kernel's Applier — the very path the live NATS consumer takes, checkpoints
included. The org trees are three jurisdictions from the seeds: Jiangxi (001), Jiyuan (003,
a county-level unit directly under Henan) and a Hangzhou district (002)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from services.funding.projector.directory import PROJECTIONS
from shared.envelope import Envelope
from shared.projection import Applier, Delivery, Outcome
from tests.conftest import eventually

TREES = {
    "jiangxi": [("360000", "江西省", "province", None), ("360100", "南昌市", "city", "360000"),
                ("360102", "东湖区", "county", "360100"), ("360102001", "东湖区第一小学", "school", "360102"),
                ("360102002", "东湖区第二小学", "school", "360102")],
    "jiyuan": [("410000", "河南省", "province", None), ("419001", "济源市", "county", "410000"),
               ("419001001", "济源第一中学", "school", "419001"), ("419001002", "济源第二中学", "school", "419001")],
    "hangzhou": [("330000", "浙江省", "province", None), ("330100", "杭州市", "city", "330000"),
                 ("330106", "西湖区", "county", "330100"), ("330106001", "西湖区第一小学", "school", "330106"),
                 ("330106002", "西湖区第二小学", "school", "330106"),
                 ("330106003", "西湖区第三小学", "school", "330106"),
                 ("330108", "滨江区", "county", "330100"), ("330108001", "滨江区第一小学", "school", "330108")],
}


class Upstream:
    def __init__(self, pool) -> None:
        self.pool = pool
        self.versions: dict[str, int] = defaultdict(int)
        self.appliers = [Applier(p) for p in PROJECTIONS]

    def envelope(self, stream_id: str, type_: str, data: dict[str, Any]) -> Envelope:
        self.versions[stream_id] += 1
        return Envelope(id=uuid.uuid4(), source="/enrollment", type=type_, subject=stream_id,
                        time=datetime.now(UTC), data=data, stream_version=self.versions[stream_id])

    async def deliver(self, *envelopes: Envelope) -> list[list[Outcome]]:
        return [await a.apply(self.pool, [Delivery(e) for e in envelopes]) for a in self.appliers]

    async def emit(self, stream_id: str, type_: str, data: dict[str, Any]) -> Envelope:
        env = self.envelope(stream_id, type_, data)
        await self.deliver(env)
        return env

    async def tree(self, name: str) -> None:
        for code, org_name, kind, parent in TREES[name]:
            if not await self.pool.fetchval("SELECT true FROM orgs WHERE code = $1", code):
                await self.emit(f"org-{code}", "OrgRegistered",
                                {"code": code, "name": org_name, "kind": kind, "parent_code": parent})

    async def host(self, province: str) -> str:
        hid = str(uuid.uuid4())
        await self.emit(f"host-{hid}", "HostRegistered",
                        {"host_id": hid, "name": "师范大学", "province_code": province})
        return hid

    async def teacher(self, school: str) -> str:
        tid = str(uuid.uuid4())
        await self.emit(f"teacher-{tid}", "TeacherRegistered", {
            "teacher_id": tid, "school_code": school, "subject": "数学", "stage": "小学", "title": "一级教师",
            "hired_on": "2015-09-01"})
        return tid

    async def project(self, host_id: str | None, organizer: str, year: int = 2023) -> str:
        pid = str(uuid.uuid4())
        await self.emit(f"project-{pid}", "ProjectDrafted", {
            "project_id": pid, "code": f"P-{pid[:8]}", "name": "教师数字化能力提升培训", "level": "provincial",
            "category": "中小学教师数字化能力提升培训", "year": year, "host_id": host_id, "organizer_code": organizer,
            "hours": 90, "hour_category": "online", "starts_on": f"{year}-07-15", "ends_on": f"{year}-07-30",
            "cross_year": False, "practical_ratio": 0.5, "modules": []})
        return pid

    async def checkin(self, pid: str, tid: str, region: str, host_id: str | None) -> Envelope:
        """Delivers the nomination (so the stream's versions stay contiguous) and returns the
        TeacherCheckedIn envelope, for the test to deliver — once or more."""
        eid = str(uuid.uuid4())
        ids = {"enrollment_id": eid, "project_id": pid, "teacher_id": tid, "region_code": region}
        await self.emit(f"enrollment-{eid}", "TeacherNominated", {**ids, "level": "provincial", "year": 2023})
        return self.envelope(f"enrollment-{eid}", "TeacherCheckedIn",
                             {**ids, "host_id": host_id, "checked_in_on": "2023-07-15"})


async def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()


async def projected_checkins(fpool, n: int) -> None:
    """Wait until funding has projected `n` check-ins (and the seven teachers of the enrollment
    flow, tests/funding/enrollment_flow.py) from what enrollment published over NATS."""
    async def done() -> bool:
        return await fpool.fetchval("SELECT count(*) FROM checkins") == n and await fpool.fetchval(
            "SELECT count(*) FROM teachers") == 7
    await eventually(done, message=f"{n} check-ins projected from NATS")


async def assessed(fpool) -> None:
    """Until the assessor (services/funding/projector/assessor.py) has applied every event of the
    funding store, its own FundingAssessed included: no assessment is on its way any more."""
    async def done() -> bool:
        # Stream by stream, not by the highest position applied (tests/conftest.py:caught_up).
        return await fpool.fetchval(
            """SELECT NOT EXISTS (
                   SELECT 1 FROM events e LEFT JOIN projection_checkpoints c
                       ON c.projection = 'funding_assessor' AND c.stream = md5('/funding:' || e.stream_id)::uuid
                   WHERE e.version > coalesce(c.version, 0))""")
    await eventually(done, message="the assessor at the head of the funding store")


async def written(pool) -> tuple[int, int, int, list]:
    """Everything a refused command must leave untouched (once the assessor is done reacting to
    the commands before it)."""
    await assessed(pool)
    return (await pool.fetchval("SELECT count(*) FROM events"),
            await pool.fetchval("SELECT count(*) FROM funding_entries"),
            await pool.fetchval("SELECT count(*) FROM funding_policies"),
            [tuple(r) for r in await pool.fetch("SELECT * FROM funding_accounts ORDER BY org_code, year")])
