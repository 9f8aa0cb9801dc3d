"""ASGI entry point of the enrollment service: `uvicorn services.enrollment.main:app`."""

from pathlib import Path

from services.enrollment.api import (
    attendance_import,
    close_out,
    eligibility,
    enrollment_progress,
    enrollment_reads,
    enrollments,
    leave,
    me,
    orgs,
    policies,
    projects,
    roster,
    teachers,
)
from services.enrollment.events import registry
from services.enrollment.guards import GUARDS
from services.enrollment.projector import READ_MODELS
from services.enrollment.titles import TITLES
from shared.service import ServiceSpec, create_app

spec = ServiceSpec(
    name="enrollment",
    title="Enrollment 培训项目与报名",
    migrations=Path(__file__).parent / "migrations",
    # Route-matching order: the commands a term's traffic is made of first (every route stays
    # reachable by its own path: tests/test_route_order.py).
    routers=[enrollments.router, enrollment_progress.router, enrollment_reads.router, me.router, leave.router,
             projects.router, teachers.router, orgs.router, attendance_import.router, policies.router,
             eligibility.router, close_out.router, roster.router],
    registry=registry,
    inline=[*READ_MODELS, GUARDS],  # guards last: their row locks are held until COMMIT (shared/inline.py)
    titles=TITLES,
    refused_roles=frozenset({"finance"}),  # 财务 reads funding only, no teacher data (issue 20)
)
app = create_app(spec)
