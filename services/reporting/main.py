"""ASGI entry point of the reporting service: `uvicorn services.reporting.main:app`."""

from pathlib import Path

from shared.service import ServiceSpec, create_app

spec = ServiceSpec(
    name="reporting",
    title="Reporting 统计报表",
    migrations=Path(__file__).parent / "migrations",
    owns_events=False,
)
app = create_app(spec)
