"""Shared by the project API tests (lifecycle; quotas, bulletins and reads): the org tree and two
hosts as given events, a pinned Asia/Shanghai "today", a client per role, and request helpers.

The fixtures are module-scoped, as the database is: a test module takes them by binding them at
its top (`world, api = seed_projects.world, seed_projects.api`), which also makes `world` autouse there.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from shared.clock import shanghai_today
from tests.enrollment.given import given

TODAY = date(2026, 3, 2)  # Asia/Shanghai "today" for every route in the modules that bind `world`
HOST = str(uuid.uuid4())
OTHER_HOST = str(uuid.uuid4())
CITY_ADMIN = ("city_admin", "610100")
PROVINCE_ADMIN = ("province_admin", "610000")
ETHICS = {"name": "师德师风第一课", "hours": 6, "practical": False, "kind": "ethics"}
PRACTICE = {"name": "跟岗实践", "hours": 60, "practical": True, "kind": "practice"}


@pytest.fixture(scope="module", autouse=True)
async def world(enrollment_app, epool):
    enrollment_app.dependency_overrides[shanghai_today] = lambda: TODAY
    for code, kind, parent in (("610000", "province", None), ("610100", "city", "610000"),
                               ("610102", "county", "610100"), ("610200", "city", "610000"),
                               ("610202", "county", "610200"), ("610102001", "school", "610102")):
        await given(epool, f"org-{code}", ("OrgRegistered", {"code": code, "name": f"机构{code}", "kind": kind,
                                                             "parent_code": parent}))
    for host in (HOST, OTHER_HOST):
        await given(epool, f"host-{host}", ("HostRegistered", {"host_id": host, "name": "陕西师范大学",
                                                               "province_code": "610000"}))
    yield
    enrollment_app.dependency_overrides.pop(shanghai_today, None)


@pytest.fixture(scope="module")
def api(as_role):
    async def call(who: tuple[str, str | None], method: str, url: str, **kw):
        async with as_role(*who) as client:
            return await client.request(method, url, **kw)

    return call


def project(**changes) -> dict:
    body = {"code": f"SX-{uuid.uuid4().hex[:10]}", "name": "市级骨干教师培训", "level": "municipal",
            "category": "骨干教师", "year": 2026, "host_id": HOST, "organizer_code": "610100", "hours": 90,
            "hour_category": "centralized", "starts_on": "2026-05-01", "ends_on": "2026-05-10",
            "cross_year": False, "practical_ratio": 0.6, "modules": [ETHICS, PRACTICE]}
    return {k: v for k, v in {**body, **changes}.items() if v is not ...}


async def count(epool) -> int:
    return await epool.fetchval("SELECT count(*) FROM events")


def problem(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    doc = resp.json()
    assert doc["code"] == code and doc["status"] == status and doc["title"], doc


async def draft(api, who=CITY_ADMIN, **changes) -> str:
    resp = await api(who, "POST", "/v1/projects", json=project(**changes))
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


STEPS = (("submit-plan", CITY_ADMIN), ("approve", PROVINCE_ADMIN), ("open", CITY_ADMIN), ("start", CITY_ADMIN),
         ("close", CITY_ADMIN))


async def advance(api, pid: str, steps: int) -> None:
    for action, who in STEPS[:steps]:
        resp = await api(who, "POST", f"/v1/projects/{pid}/{action}")
        assert resp.status_code == 200, resp.text

