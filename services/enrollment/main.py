"""ASGI entry point of the enrollment service: `uvicorn services.enrollment.main:app`."""

from pathlib import Path

from services.enrollment.api import enrollments, orgs, projects, teachers
from services.enrollment.events import registry
from services.enrollment.projector import load_handlers
from shared.service import ServiceSpec, create_app

load_handlers()
spec = ServiceSpec(
    name="enrollment",
    title="Enrollment 培训项目与报名",
    migrations=Path(__file__).parent / "migrations",
    routers=[orgs.router, teachers.router, projects.router, enrollments.router],
    registry=registry,
)
app = create_app(spec)
