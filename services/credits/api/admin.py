"""HTTP route: rebuild the credits read models from events (an operator's tool).

POST /v1/admin/rebuild {"models": ["ledger", "intake", "compliance"], "source": "feed" | "stream"}
— the kernel's projection rebuild (projector/rebuild.py). `source` picks where enrollment's
events come from for the intake model: its `/v1/events` feed (ENROLLMENT_URL, with SERVICE_TOKEN;
the record) or its JetStream stream. Our own models always rebuild from our event store.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from services.credits.api.models import Rebuilt
from services.credits.projector.rebuild import READ_MODELS, Model, rebuild_all
from services.credits.titles import problem
from shared.auth import OPERATORS, Authenticated, require_role

router = APIRouter(tags=["operations"])


class RebuildRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: list[Model] = Field(default_factory=lambda: list(READ_MODELS), min_length=1)
    source: Literal["feed", "stream"] = "feed"


@router.post("/v1/admin/rebuild", summary="Rebuild read models from events", response_model=Rebuilt)
async def rebuild(body: RebuildRequest, request: Request, principal: Authenticated) -> Any:
    require_role(principal, *OPERATORS)
    try:
        done = await rebuild_all(request.app, body.models, body.source, client=getattr(
            request.app.state, "enrollment_feed_client", None))
    except (httpx.HTTPError, ConnectionError) as exc:
        raise problem("rebuild_source_unavailable", f"could not read enrollment's events: {type(exc).__name__}",
                      503) from None
    return {"rebuilt": done}
