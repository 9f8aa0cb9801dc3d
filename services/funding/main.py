"""ASGI entry point of the funding service: `uvicorn services.funding.main:app`."""

from pathlib import Path

from shared.service import ServiceSpec, create_app

spec = ServiceSpec(
    name="funding",
    title="Funding 培训经费",
    migrations=Path(__file__).parent / "migrations",
    owns_events=True,
)
app = create_app(spec)
