"""ASGI entry point of the credits service: `uvicorn services.credits.main:app`.

The credits service keeps each teacher's ledger of credit hours (学时) and credits (学分) under
their jurisdiction's policy, from enrollment's completions and from reviewed claims; transcripts,
per-org compliance, per-school verdicts for other services and signed certificates are read
from it.

Inside (DESIGN.md "Inside a service"): api/ routes → handlers/ (one per command) → domain/ (pure
rules, each naming its source) → the kernel records the events through the inline projections.
Tables and who writes them:
- policies, entries, claims, certificates — inline projections of our own events, in the
  command's transaction (projector/policies.py, ledger.py, certificates.py);
- org_tree, teacher_schools — IntakeProjection (ENROLLMENT stream), which also turns each
  EnrollmentCompleted into one HoursAwarded (projector/intake.py → handlers/award.py);
- teacher_years — ComplianceProjection (our own CREDITS stream; projector/compliance.py).
All rebuild from events: POST /v1/admin/rebuild (projector/rebuild.py).

Decisions (see the domain modules for their sources):
- school year: 1 September by default ("2023学年" = 2023-09-01..2024-08-31), a policy field;
- an entry's credits follow the policy in force on the day it was earned; a period's target is
  that of the policy in force on the earlier of as_of and the period's last day;
- `as_of` is bitemporal in transcripts: lines recorded and policy versions published after it
  are not seen;
- a new teacher is one hired less than `induction_years` (default 1) ago; induction hours are all
  hours earned since hiring within that window;
- holders are shown as a masked teacher id: the credits service never receives names;
- a completion's hours count in the credit category the policy in force on its day maps its
  project hour category to (`category_map`); unmapped, in the hour category itself (as before
  the map existed): toward the annual and cycle targets, toward no category minimum;
- teachers short of hours are listed per org and year (annual, cycle share due, category
  minimums; domain/shortfall.py) and reminded by POST /v1/reminders/short-of-hours, which
  publishes TeacherShortOfHours once per (org, year, teacher).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.credits.api import (
    admin,
    certificates,
    claims,
    compliance,
    entries,
    me,
    policies,
    shortfall,
    transcripts,
)
from services.credits.config import CreditsSettings
from services.credits.events import registry
from services.credits.projector import INLINE
from services.credits.projector.compliance import ComplianceProjection
from services.credits.projector.intake import IntakeProjection
from services.credits.titles import TITLES
from shared.service import ServiceSpec, create_app
from shared.settings import Settings


def build_spec() -> ServiceSpec:
    return ServiceSpec(
        name="credits",
        title="Credits 学时学分",
        migrations=Path(__file__).parent / "migrations",
        routers=[policies.router, transcripts.router, compliance.router, claims.router, entries.router,
                 certificates.router, shortfall.router, admin.router, me.router],
        projections=[IntakeProjection(INLINE), ComplianceProjection()],
        registry=registry,
        owns_events=True,
        inline=INLINE,
        titles=TITLES,
        refused_roles=frozenset({"finance"}),  # 财务 reads funding only (issue 20)
    )


spec = build_spec()


def build_app(settings: Settings | None = None, credits: CreditsSettings | None = None) -> FastAPI:
    """The app; `credits` overrides the CREDITS_* environment (tests pass their own signing key)."""
    app = create_app(spec, settings)
    app.state.credits_settings = credits
    return app


app = build_app()
