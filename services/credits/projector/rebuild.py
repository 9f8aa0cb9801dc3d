"""Rebuilding every credits read model from events, with the kernel's `shared.projection.rebuild`
(reset, then re-apply under the projection's lock, deduplicated by checkpoints):

- ledger (policies, entries, claims, certificates): our own events, from our event store;
- intake (org tree, teachers' schools): enrollment's events, from its `/v1/events` feed (the
  record, DESIGN.md) or from the start of its JetStream stream. Completions are re-applied too:
  an award already recorded is skipped by its deterministic event id, and one that was lost on
  the way (JetStream may drop acknowledged writes) is recorded now;
- compliance (teacher_years): our own events, from our event store.

Ledger handlers are idempotent, so commands may keep recording while a rebuild runs; readers see
the tables fill up again meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import asyncpg
import httpx
from fastapi import FastAPI

from services.credits.projector import HANDLERS, project
from services.credits.projector.compliance import ComplianceProjection
from services.credits.projector.intake import IntakeProjection
from services.credits.projector.ledger import TABLES, insert_entries
from shared.consumer import stream_source
from shared.envelope import Envelope
from shared.feed import feed_source, store_source
from shared.projection import Projection, Traced, rebuild

READ_MODELS = ("ledger", "intake", "compliance")


class LedgerProjection(Projection):
    """The inline projector, seen as a Projection so the kernel can rebuild it. Not a live consumer:
    commands project their own events in the same transaction as the append."""

    name = "credits_ledger"
    sources = ("credits",)

    def __init__(self) -> None:
        self.handles = frozenset(HANDLERS)

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        await project(conn, event.subject, event.stream_version, event.type, event.data)

    async def apply_batch(self, conn: asyncpg.Connection, items: list[Traced]) -> None:
        # Awards are nearly all of a credits store: their ledger rows go in one statement per run.
        awards: list[tuple[str, str, dict]] = []
        for item in items:
            ev = item.event
            if ev.type == "HoursAwarded":
                awards.append((ev.subject, "award", ev.data))
                continue
            await insert_entries(conn, awards)
            awards = []
            await self.apply(conn, ev)
        await insert_entries(conn, awards)

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {', '.join(TABLES)}")


def _live(app: FastAPI, cls: type) -> Projection:
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
            done[model] = await rebuild(pool, LedgerProjection(), store_source(pool, store), deliveries)
        elif model == "intake":
            done[model] = await rebuild(pool, _live(app, IntakeProjection), _enrollment_events(app, source, client),
                                        deliveries)
        else:
            done[model] = await rebuild(pool, _live(app, ComplianceProjection), store_source(pool, store), deliveries)
    return done
