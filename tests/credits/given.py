"""Given-events seeding for credits tests: enrollment's events via the kernel Applier running
IntakeProjection (checkpoints and all), exactly as the live consumer would apply them from
JetStream. Our own events are recorded through the HTTP API.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from services.credits.projector.intake import IntakeProjection
from shared.envelope import Envelope
from shared.projection import Applier, Delivery


def enrollment_event(type_: str, subject: str, data: dict[str, Any], version: int = 1) -> Envelope:
    return Envelope(id=uuid.uuid4(), source="/enrollment", type=type_, subject=subject, time=datetime.now(UTC),
                    data=data, stream_version=version, position=0, actor={"sub": "test", "role": "host"})


async def given_enrollment(app, *events: Envelope) -> None:
    intake = next(p for p in app.state.spec.projections if isinstance(p, IntakeProjection))
    outcomes = await Applier(intake).apply(app.state.pool, [Delivery(e) for e in events])
    assert all(o.settled for o in outcomes), outcomes


def org(code: str, kind: str, parent: str | None) -> Envelope:
    return enrollment_event("OrgRegistered", f"org-{code}", {"code": code, "name": code, "kind": kind,
                                                             "parent_code": parent})


def jiangxi_tree() -> list[Envelope]:
    return [org("360000", "province", None), org("360100", "city", "360000"), org("360102", "county", "360100"),
            org("360103", "county", "360100"), org("360102001", "school", "360102"),
            org("360102002", "school", "360102"), org("360103001", "school", "360103"),
            org("360200", "city", "360000"), org("360202", "county", "360200"), org("360202001", "school", "360202")]


def teacher(school: str, hired_on: str = "2010-09-01", teacher_id: str | None = None) -> Envelope:
    tid = teacher_id or str(uuid.uuid4())
    return enrollment_event("TeacherRegistered", f"teacher-{tid}", {
        "teacher_id": tid, "school_code": school, "subject": "数学", "stage": "初中", "title": "一级教师",
        "hired_on": hired_on})


def completed(teacher_id: str, hours: float, on: str, region: str, category: str = "centralized") -> Envelope:
    eid = str(uuid.uuid4())
    return enrollment_event("EnrollmentCompleted", f"enrollment-{eid}", {
        "enrollment_id": eid, "project_id": str(uuid.uuid4()), "teacher_id": teacher_id, "region_code": region,
        "host_id": str(uuid.uuid4()), "level": "provincial", "year": int(on[:4]), "hours": hours,
        "hour_category": category, "completed_on": on})


async def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


async def jiangxi_world(app: Any, as_role: Any, clock: dict[str, Any]) -> dict[str, Any]:
    """Jiangxi's org tree through the intake projection and its 2018 policy as issued; today
    2023-10-08 (the credits API modules' common world)."""
    from datetime import date

    from tests.credits.seeds import JIANGXI_2018, body

    await given_enrollment(app, *jiangxi_tree())
    clock["today"] = date(2018, 2, 6)
    await ok(await as_role("province_admin", "360000").put("/v1/policies/360000", json=body(JIANGXI_2018)), 201)
    clock["today"] = date(2023, 10, 8)
    return {}
