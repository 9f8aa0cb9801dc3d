"""What reporting asks the other services for at query time: the read models they publish.

Credits publishes its compliance verdicts per school (GET /v1/compliance/schools: teachers counted,
meeting the target, without a policy, hours, and the policy version used). Reporting adds them up
the org tree and knows nothing of the rule behind them, so a policy change at credits shows here at
once. The owner is asked with the service token (SERVICE_TOKEN), at <SERVICE>_URL; tests hand in
clients of their in-process apps through `app.state.peer_clients` (the feeds of a rebuild use them
too). An owner that cannot answer is a 503 problem with Retry-After, never a half-filled report.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI

from shared.problems import Problem

TIMEOUT_S = 10.0


@contextlib.asynccontextmanager
async def client(app: FastAPI, service: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `service`: the one a test handed in, else a fresh one for this call."""
    given: httpx.AsyncClient | None = (getattr(app.state, "peer_clients", None) or {}).get(service)
    if given is not None:
        yield given
        return
    async with httpx.AsyncClient(base_url=getattr(app.state.settings, f"{service}_url"), timeout=TIMEOUT_S) as c:
        yield c


def _unavailable(service: str, why: str) -> Problem:
    return Problem(503, "upstream_unavailable", "上游服务暂不可用 Upstream service unavailable",
                   f"the {service} service could not answer ({why}); retry later", headers={"Retry-After": "5"})


async def pages(app: FastAPI, service: str, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a paged read model (`items`, `next_cursor`), in the owner's order."""
    token = app.state.settings.service_token
    items: list[dict[str, Any]] = []
    query = {k: v for k, v in params.items() if v is not None}
    async with client(app, service) as c:
        while True:
            try:
                resp = await c.get(path, params=query, headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                raise _unavailable(service, type(exc).__name__) from None
            if resp.status_code != 200:
                raise _unavailable(service, f"HTTP {resp.status_code}")
            doc = resp.json()
            items += doc["items"]
            if not doc.get("next_cursor"):
                return items
            query["cursor"] = doc["next_cursor"]
