"""ASGI entry point of the credits service: `uvicorn services.credits.main:app`."""

from pathlib import Path

from shared.service import ServiceSpec, create_app

spec = ServiceSpec(
    name="credits",
    title="Credits 学时学分",
    migrations=Path(__file__).parent / "migrations",
    owns_events=True,
)
app = create_app(spec)
