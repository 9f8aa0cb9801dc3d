"""Acceptance 3: the dashboard, served by a real uvicorn process, renders its charts in headless
Chromium (Debian's package) with no console errors and nothing fetched from anywhere but itself;
the screenshot is kept under test-output/ (its path is printed)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from shared.devkeys import mint_token
from tests.conftest import eventually
from tests.reporting.cdp import Browser, chromium_path
from tests.reporting.given import Given, assessment

ROOT = Path(__file__).resolve().parents[2]
SHOT = ROOT / "test-output" / "reporting-dashboard.png"
LOG = ROOT / "test-output" / "reporting-dashboard-uvicorn.log"
CHARTS = """JSON.stringify([...document.querySelectorAll('svg.chart')].map(s => ({
    title: s.getAttribute('aria-label'),
    bars: [...s.querySelectorAll('rect.bar')].map(r => [r.dataset.value, r.getBBox().width * r.getBBox().height])})))"""
ORGS = [("610000", "陕西省", "province", None), ("610100", "西安市", "city", "610000"),
        ("610300", "宝鸡市", "city", "610000"), ("610102", "新城区", "county", "610100"),
        ("610103", "碑林区", "county", "610100"), ("610302", "渭滨区", "county", "610300"),
        ("610102001", "新城区第一中学", "school", "610102"), ("610302001", "渭滨区第一中学", "school", "610302")]
# Funding's verdicts: one school and one county comply in 西安市, neither in 宝鸡市.
ASSESSED = [("610102001", "school", True), ("610302001", "school", False), ("610102", "county", True),
            ("610302", "county", False)]
# project level, host, quotas {region: places}, outcomes per region: C completed, F failed, N no-show,
# W withdrawn, I checked in (still training), O nominated only; + a satisfied evaluation, - an unsatisfied one.
PROJECTS = [("national", 0, {"610102": 4, "610302": 3}, {"610102": "C+C+F-I", "610302": "C+N"}),
            ("provincial", 1, {"610103": 5, "610302": 4}, {"610103": "C+C+C-W", "610302": "C+C+C+C-"}),
            ("municipal", 2, {"610102": 3, "610103": 3}, {"610102": "C-NO", "610103": "C+"}),
            ("county", 1, {"610302": 6}, {"610302": "C+C+C+C+F"})]


def _events(pid: str, region: str, outcome: str, host: str) -> list[tuple[str, list]]:
    streams = []
    for ch, mark in zip(outcome, outcome[1:] + " ", strict=True):
        if ch in "+-":
            continue
        eid, tid = str(uuid.uuid4()), str(uuid.uuid4())
        ids = {"enrollment_id": eid, "project_id": pid, "teacher_id": tid, "region_code": region}
        evs = [("TeacherNominated", {**ids, "year": 2023, "nominated_on": "2023-06-01"})]
        if ch in "CFI":
            evs.append(("TeacherCheckedIn", {**ids, "host_id": host, "checked_in_on": "2023-07-03"}))
        evs += {"C": [("EnrollmentCompleted", {**ids, "completed_on": "2023-07-12"})],
                "F": [("EnrollmentFailed", {**ids, "reason": "结业考核不合格", "failed_on": "2023-07-12"})],
                "N": [("NoShowRecorded", {**ids, "special_reason": True})],
                "W": [("EnrollmentWithdrawn", {**ids, "reason": "工作调动"})]}.get(ch, [])
        if mark in "+-":
            evs.append(("EvaluationSubmitted", {**ids, "host_id": host, "satisfied": mark == "+", "score": 4}))
        streams.append((f"enrollment-{eid}", evs))
    return streams


@pytest.fixture(scope="module")
async def seeded(rpool):
    given = Given(rpool)
    for code, name, kind, parent in ORGS:
        await given(f"org-{code}", ("OrgRegistered", {"code": code, "name": name, "kind": kind, "parent_code": parent}))
    hosts = [str(uuid.uuid4()) for _ in range(3)]
    for host, name in zip(hosts, ("陕西师范大学", "西北大学", "宝鸡文理学院"), strict=True):
        await given(f"host-{host}", ("HostRegistered", {"host_id": host, "name": name, "province_code": "610000"}))
    for n, (level, h, quotas, outcomes) in enumerate(PROJECTS, start=1):
        pid = str(uuid.uuid4())
        drafted = {"project_id": pid, "code": f"SX2023-{n:02d}", "name": f"2023年{level}项目", "level": level,
                   "year": 2023, "host_id": hosts[h], "organizer_code": "610000", "starts_on": "2023-07-03",
                   "ends_on": "2023-07-12"}
        quota = [("QuotaAllocated", {"project_id": pid, "region_code": r, "places": q}) for r, q in quotas.items()]
        issues = [("BulletinSubmitted", {"project_id": pid, "issue_no": i, "title": f"简报{i}",
                                         "published_on": "2023-07-20"}) for i in range(1, n % 3 + 1)]
        await given(f"project-{pid}", ("ProjectDrafted", drafted), *quota, *issues)
        for region, outcome in outcomes.items():
            for stream, evs in _events(pid, region, outcome, hosts[h]):
                await given(stream, *evs)
    # Funding's verdicts as funding publishes them (FundingAssessed): reporting only counts them.
    funding = Given(rpool, source="/funding")
    for org, kind, compliant in ASSESSED:
        await funding(f"assessment-{org}-2023", ("FundingAssessed", assessment(org, 2023, kind, compliant)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
async def server(seeded, db_url, nats_url, keys_dir, module_namespace):
    """`uvicorn services.reporting.main:app` in its own process, on the seeded database."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "NATS_URL": nats_url, "BUS_NAMESPACE": module_namespace,
           "JWT_PUBLIC_KEYS": str(keys_dir / "jwks.json"), "LOG_LEVEL": "WARNING", "DB_POOL_MIN": "1"}
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("wb") as log:  # the server's own log, kept beside the screenshot for a failing run
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "services.reporting.main:app", "--host", "127.0.0.1", "--port",
            str(port), cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"

    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False
    try:
        await eventually(up, timeout=60, message=f"uvicorn serving the reporting app (log: {LOG})")
        yield url
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)


async def test_the_dashboard_renders_its_charts_in_headless_chromium(server, keys_dir):
    chromium_path()  # fails, never skips, without Debian's chromium
    token = mint_token(keys_dir, "province_admin", org="610000", sub="dashboard-test")
    async with httpx.AsyncClient() as client:
        html = (await client.get(f"{server}/dashboard", headers={"Authorization": f"Bearer {token}"})).text
    assert "<script" not in html.lower() and "https://" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    async with Browser() as browser:
        await browser.load(f"{server}/dashboard?year=2023", {"Authorization": f"Bearer {token}"})
        charts = await browser.evaluate(CHARTS)
        png = await browser.screenshot()
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        SHOT.write_bytes(png)
        print(f"\ndashboard screenshot: {SHOT}")
        assert browser.console_errors() == []
        assert all(u.startswith(server) or u.startswith("data:") for u in browser.requested()), browser.requested()
    drawn = json.loads(charts)
    # The projects start in July 2023: the 2022学年 (from 1 September 2022) is the latest school year.
    # Credits is not running here, so its table says so and draws no chart.
    assert [c["title"] for c in drawn] == ["2023年 陕西省下辖地区", "2022学年 按开班月份", "历年趋势(按学年)",
                                           "2023年 按项目级别", "2023年 经费合规(达标率)", "2023年 承办单位综合得分"]
    # 2 cities × 3 rates; July × 3 rates; one school year × 3 rates; 4 levels × 3 rates;
    # 2 cities × (schools, counties); 3 hosts
    assert [len(c["bars"]) for c in drawn] == [6, 3, 3, 12, 4, 3]
    assert [v for v, _ in drawn[4]["bars"]] == ["1.0000", "1.0000", "0.0000", "0.0000"]
    assert all((area > 0) is (float(value) > 0) for c in drawn for value, area in c["bars"])
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
