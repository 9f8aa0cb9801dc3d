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
    # Order is route-matching order: keep it when adding a router.
    routers=[orgs.router, teachers.router, projects.router, enrollments.router, enrollment_progress.router,
             attendance_import.router, enrollment_reads.router, policies.router, eligibility.router, me.router,
             leave.router, close_out.router],
    registry=registry,
    inline=[*READ_MODELS, GUARDS],  # guards last: their row locks are held until COMMIT (shared/inline.py)
    titles=TITLES,
    refused_roles=frozenset({"finance"}),  # 财务 reads funding only, no teacher data (issue 20)
)
app = create_app(spec)
