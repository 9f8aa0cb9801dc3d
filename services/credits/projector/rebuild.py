"""Rebuilding every credits table from events, with the kernel's `shared.projection.rebuild`:

- ledger — the inline tables (policies, entries, claims, certificates): our own event store
  through the service's inline projections (shared.inline.InlineReplay). The replay holds the
  inline lock throughout, so commands and the intake's awards wait rather than write into
  half-refilled tables;
- intake (org tree, teachers' schools): enrollment's events, from its `/v1/events` feed (the
  record, DESIGN.md) or from the start of its JetStream stream. Completions are re-applied too:
  an award already recorded is skipped by its deterministic event id, and one that was lost on
  the way (JetStream may drop acknowledged writes) is recorded now;
- compliance (teacher_years): our own events, from our event store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Literal

import httpx
from fastapi import FastAPI

from services.credits.projector.compliance import ComplianceProjection
from services.credits.projector.intake import IntakeProjection
from shared.consumer import stream_source
from shared.envelope import Envelope
from shared.feed import feed_source, store_source
from shared.inline import InlineReplay
from shared.projection import Projection, rebuild

Model = Literal["ledger", "intake", "compliance"]
READ_MODELS: tuple[Model, ...] = ("ledger", "intake", "compliance")


def _live(app: FastAPI, cls: type[Projection]) -> Projection:
    return next(p for p in app.state.spec.projections if isinstance(p, cls))


def _enrollment_events(app: FastAPI, source: str, client: httpx.AsyncClient | None) -> AsyncIterator[list[Envelope]]:
    settings = app.state.settings
    if source == "feed":
        return feed_source(settings.enrollment_url, settings.service_token, client=client)
    return stream_source(app.state.bus, app.state.names, "enrollment")


async def rebuild_all(app: FastAPI, models: Sequence[str] = READ_MODELS, source: str = "feed",
                      client: httpx.AsyncClient | None = None) -> dict[str, int]:
    """Rebuild the named read models in dependency order; returns events read per model."""
    pool, store = app.state.pool, app.state.store
    deliveries = app.state.settings.projection_max_deliveries
    done: dict[str, int] = {}
    for model in READ_MODELS:  # ledger before intake: re-awarding checks the store, not the tables
        if model not in models:
            continue
        if model == "ledger":
            replay = InlineReplay("credits", app.state.spec.inline)
            done[model] = await rebuild(pool, replay, store_source(pool, store), deliveries)
        elif model == "intake":
            done[model] = await rebuild(pool, _live(app, IntakeProjection), _enrollment_events(app, source, client),
                                        deliveries)
        else:
            done[model] = await rebuild(pool, _live(app, ComplianceProjection), store_source(pool, store), deliveries)
    return done
