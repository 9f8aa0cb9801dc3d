"""A service's background loops (the relay, each projection consumer, the idempotency-key pruner)
kept running: one that dies is logged, counted and started again.

Each loop catches what it expects (NATS or PostgreSQL away) and backs off by itself. What it does
not expect used to end its task silently: the fault suite at 160 commands/s met asyncpg's
InternalClientError during a PostgreSQL stop, the relay's task ended, `/readyz` stayed "ready",
and the outbox grew until the process was restarted (docs/reliability.md). Now the supervisor
starts the loop again after a back-off, `tt_background_restarts_total{task}` rises, and `/readyz`
says "degraded" with the loops that are down, while they are down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .telemetry import BACKGROUND_RESTARTS

log = logging.getLogger(__name__)


class Supervisor:
    """Runs named loops until `stop` is set; `down` names those waiting to be started again."""

    def __init__(self, service: str, stop: asyncio.Event, first_backoff: float = 0.5,
                 max_backoff: float = 30.0) -> None:
        self.service = service
        self.stop = stop
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.down: set[str] = set()

    def start(self, name: str, loop: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        return asyncio.create_task(self._keep(name, loop), name=name)

    async def _keep(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        backoff = self.first_backoff
        while not self.stop.is_set():
            try:
                await loop()
                if self.stop.is_set():
                    return
                reason = "returned while the service runs"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # what the loop did not expect: log, count, start it again
                reason = f"{type(exc).__name__}: {exc}"
            self.down.add(name)
            BACKGROUND_RESTARTS.labels(service=self.service, task=name).inc()
            log.error("background task %s ended (%s); starting it again in %.1f s", name, reason, backoff,
                      exc_info=not reason.startswith("returned"))
            try:
                await asyncio.wait_for(self.stop.wait(), backoff)
                return
            except TimeoutError:
                pass
            finally:
                self.down.discard(name)
            backoff = min(backoff * 2, self.max_backoff)
