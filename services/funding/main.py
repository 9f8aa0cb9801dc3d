"""ASGI entry point of the funding service: `uvicorn services.funding.main:app`.

Commands record funding events through the inline projector (services/funding/projector);
the enrollment stream feeds the org tree, teachers, projects and check-ins through kernel
projections (services/funding/projector/directory.py)."""

from pathlib import Path

from services.funding.api import budgets, entries, funding, policies, settlements
from services.funding.events import registry
from services.funding.projector import load_handlers
from services.funding.projector.directory import PROJECTIONS
from shared.service import ServiceSpec, create_app

load_handlers()
spec = ServiceSpec(
    name="funding",
    title="Funding 培训经费",
    migrations=Path(__file__).parent / "migrations",
    routers=[policies.router, budgets.router, entries.router, settlements.router, funding.router],
    projections=PROJECTIONS,
    registry=registry,
    owns_events=True,
)
app = create_app(spec)
