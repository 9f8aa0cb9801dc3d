"""ASGI entry point of the enrollment service: `uvicorn services.enrollment.main:app`."""

from pathlib import Path

from shared.service import ServiceSpec, create_app

spec = ServiceSpec(
    name="enrollment",
    title="Enrollment 培训项目与报名",
    migrations=Path(__file__).parent / "migrations",
    owns_events=True,
)
app = create_app(spec)
