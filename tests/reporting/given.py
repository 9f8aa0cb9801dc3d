"""Given-events for reporting tests: enrollment (or funding) envelopes applied through the kernel's Applier to
the reporting projections — the path a NATS delivery takes, minus NATS — and response helpers."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from services.reporting.projector import PROJECTIONS
from shared.envelope import Envelope
from shared.projection import Applier, Delivery


class Given:
    """Numbers each stream's events as the enrollment store would (versions, positions)."""

    def __init__(self, pool, source: str = "/enrollment") -> None:
        self.pool, self.source = pool, source
        self.versions: dict[str, int] = defaultdict(int)
        self.position = 0
        self.log: list[Envelope] = []

    async def __call__(self, stream_id: str, *events: tuple[str, dict[str, Any]]) -> list[Envelope]:
        envs = []
        for type_, data in events:
            self.versions[stream_id] += 1
            self.position += 1
            envs.append(Envelope(id=uuid.uuid4(), source=self.source, type=type_, subject=stream_id,
                                 time=datetime(2023, 7, 1, tzinfo=UTC), data=data,
                                 stream_version=self.versions[stream_id], position=self.position))
        await apply(self.pool, envs)
        self.log += envs
        return envs


async def apply(pool, envs: list[Envelope]) -> None:
    for projection in PROJECTIONS:
        await Applier(projection).apply(pool, [Delivery(e) for e in envs])


def assessment(org: str, year: int, kind: str, compliant: bool | None) -> dict[str, Any]:
    """A FundingAssessed as funding publishes it (services/funding/events.py), for a dashboard that
    only counts verdicts: the figures behind them do not matter here."""
    return {"org_code": org, "year": year, "kind": kind, "declared": True, "public_funds_budget_fen": 0,
            "payroll_fen": 0, "training_budget_fen": 0, "received_fen": 0, "allocated_fen": 0, "spent_fen": 0,
            "funding_ratio": None, "payroll_share": None, "pass_down_share": None,
            "policy": {"jurisdiction_code": org[:2] + "0000", "effective_from": "2020-01-01", "version": 1},
            "rules": [], "compliant": compliant, "judged_on": f"{year}-12-31"}


async def ok(response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if "json" in response.headers.get("content-type", "") else response


def refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    doc = response.json()
    assert doc["code"] == code and doc["status"] == status and doc["title"], doc


async def at_head(app, owner, *projections: str) -> None:
    """Until each named projection of `app` has applied `owner`'s every event (delivered over NATS)."""
    from tests.conftest import caught_up, eventually

    async def done() -> bool:
        return all([await caught_up(app, p, owner) for p in projections])

    await eventually(done, timeout=60, message=f"{', '.join(projections)} at {owner.state.spec.name}'s head")
