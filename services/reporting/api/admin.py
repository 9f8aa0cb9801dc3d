"""Freshness and rebuilds of the read models.

GET /v1/reports/lag — how far each projection trails its source: `lag` is the number of messages
JetStream still holds for its durable consumer (null until first measured), `last_position` the
source's last event position applied. Any reader may ask (a figure is only as fresh as this), and
operators (role ops).

POST /v1/admin/rebuild {"source": "feed" | "stream", "models": [...]} — empty the read models
(all by default) and re-apply their owners' events from position 0: from their `GET /v1/events`
feeds (ENROLLMENT_URL, CREDITS_URL, FUNDING_URL with SERVICE_TOKEN; the record, DESIGN.md) or from the start of
their JetStream streams.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import httpx
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from services.reporting import reads
from services.reporting.api.common import problem, scope_of
from services.reporting.api.models import Lag, Rebuilt
from services.reporting.projector import PROJECTIONS, rebuild_all
from shared.auth import OPERATORS, Authenticated, require_role

router = APIRouter(tags=["operations"])
MODELS = tuple(p.name for p in PROJECTIONS)
Model = Literal["reporting_directory", "reporting_enrollments", "reporting_funding"]
if set(get_args(Model)) != set(MODELS):  # fails at import, loudly, if a projection is added or renamed
    raise RuntimeError(f"RebuildRequest.models must name {MODELS}")


@router.get("/v1/reports/lag", summary="How far the read models trail their sources", response_model=Lag)
async def lag(request: Request, principal: Authenticated) -> Any:
    if principal.role != "ops":  # operators watch lag too (it is /v1/projections' figure), no report
        scope_of(principal)
    async with request.app.state.pool.acquire() as conn:
        state = await reads.progress(conn)
    out = []
    for c in request.app.state.consumers:
        r = state.get(c.projection.name)
        out.append({"projection": c.projection.name, "source": c.source, "lag": c.lag,
                    "last_position": r["last_position"] if r else 0, "applied": r["applied"] if r else 0,
                    "updated_at": r["updated_at"] if r else None})
    return {"projections": out}


class RebuildRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Literal["feed", "stream"] = "feed"
    models: list[Model] | None = Field(default=None, min_length=1, description="default: every model")


@router.post("/v1/admin/rebuild", summary="Rebuild every read model from position 0", response_model=Rebuilt)
async def rebuild(body: RebuildRequest, request: Request, principal: Authenticated) -> Any:
    require_role(principal, *OPERATORS)
    try:
        done = await rebuild_all(request.app, body.source, getattr(request.app.state, "peer_clients", None),
                                 body.models)
    except (httpx.HTTPError, ConnectionError) as exc:
        raise problem("rebuild_source_unavailable", f"could not read the owners' events: {type(exc).__name__}",
                      503) from None
    return {"rebuilt": done, "source": body.source}
