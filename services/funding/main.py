"""ASGI entry point of the funding service: `uvicorn services.funding.main:app`.

Commands run through the kernel's unit of work (api/ → handlers/ → domain/); their events keep
the guard (guards.py: accounts) and the read models (projector/policies.py, projector/entries.py)
in the same transaction, and the rebuild replays the store through the same projections
(shared.inline.InlineReplay("funding", spec.inline)). The enrollment stream feeds the org tree,
hosts, teachers, projects and check-ins through kernel consumer projections
(projector/directory.py); funding's own stream feeds the assessor (projector/assessor.py), which
records FundingAssessed through the same inline projections whenever a verdict changes."""

from pathlib import Path

from services.funding.api import budgets, entries, funding, policies, settlements, verdicts
from services.funding.events import registry
from services.funding.guards import ACCOUNTS
from services.funding.projector.assessments import ASSESSMENTS
from services.funding.projector.assessor import AssessorProjection
from services.funding.projector.directory import PROJECTIONS
from services.funding.projector.entries import ENTRIES
from services.funding.projector.policies import POLICIES
from services.funding.titles import TITLES
from shared.service import ServiceSpec, create_app

INLINE = [POLICIES, ENTRIES, ASSESSMENTS, ACCOUNTS]  # the guard last: its row locks are held until COMMIT
spec = ServiceSpec(
    name="funding",
    title="Funding 培训经费",
    migrations=Path(__file__).parent / "migrations",
    routers=[policies.router, budgets.router, entries.router, settlements.router, funding.router, verdicts.router],
    projections=[*PROJECTIONS, AssessorProjection(INLINE)],
    registry=registry,
    owns_events=True,
    inline=INLINE,
    titles=TITLES,
)
app = create_app(spec)
