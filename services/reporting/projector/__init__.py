"""Reporting's read models, kept from other services' streams by kernel projections, and their
rebuild from the owners' records (DESIGN.md: JetStream is the transport, not the record).

Each model rebuilds from its owner's `GET /v1/events` feed (ENROLLMENT_URL, FUNDING_URL, CREDITS_URL with
SERVICE_TOKEN) from position 0, or from the start of the owner's JetStream stream. A rebuild runs while
the service is live: the projection lock serialises it with the live consumers, and checkpoints
absorb whatever both deliver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx
from fastapi import FastAPI

from services.reporting.projector.directory import DirectoryProjection
from services.reporting.projector.enrollments import EnrollmentProjection
from services.reporting.projector.funding import FundingProjection
from shared.consumer import stream_source
from shared.envelope import Envelope
from shared.feed import feed_source
from shared.projection import Projection, rebuild

PROJECTIONS: list[Projection] = [DirectoryProjection(), EnrollmentProjection(), FundingProjection()]
SOURCES = ("feed", "stream")


def _events(app: FastAPI, service: str, source: str, client: httpx.AsyncClient | None
            ) -> AsyncIterator[list[Envelope]]:
    settings = app.state.settings
    if source == "feed":
        url = getattr(settings, f"{service}_url")
        return feed_source(url, settings.service_token, after=0, client=client)
    return stream_source(app.state.bus, app.state.names, service)


async def _chain(app: FastAPI, projection: Projection, source: str,
                 clients: dict[str, httpx.AsyncClient]) -> AsyncIterator[list[Envelope]]:
    # One reset per projection, so all its sources go through one rebuild.
    for service in projection.sources:
        async for batch in _events(app, service, source, clients.get(service)):
            yield batch


async def rebuild_all(app: FastAPI, source: str = "feed", clients: dict[str, httpx.AsyncClient] | None = None,
                      models: Sequence[str] | None = None) -> dict[str, int]:
    """Reset the named read models (all by default) and re-apply their sources' events from the
    first; returns the events read per model."""
    pool, deliveries = app.state.pool, app.state.settings.projection_max_deliveries
    return {p.name: await rebuild(pool, p, _chain(app, p, source, clients or {}), deliveries)
            for p in app.state.spec.projections if models is None or p.name in models}
