"""A service's background loops (the relay, each projection consumer, the idempotency-key pruner)
kept running: one that dies is logged, counted and started again; one that hangs is named.

Each loop catches what it expects (NATS or PostgreSQL away) and backs off by itself. What it does
not expect used to end its task silently: the fault suite at 160 commands/s met asyncpg's
InternalClientError during a PostgreSQL stop, the relay's task ended, `/readyz` stayed "ready",
and the outbox grew until the process was restarted (docs/reliability.md). Now the supervisor
starts the loop again after a back-off, `tt_background_restarts_total{task}` rises, and `/readyz`
says "degraded" with the loops that are down, while they are down.

A loop can also hang without dying: a statement waiting on a lock nobody releases, a call that
never answers. Its task is alive, so nothing above notices, and in the fault runs the outbox grew
while `/readyz` said "ready". So the relay and the consumers beat a Heartbeat at every turn of
their loops (each turn waits at most a few seconds when all is well: a fetch's or a poll's
timeout, a back-off), and `/readyz` says "degraded" with `"stalled": [...]`, and
`tt_background_stalled{task}` is 1, for a loop whose heart has not beaten for `stall_after_s`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from .telemetry import BACKGROUND_RESTARTS, BACKGROUND_STALLED

log = logging.getLogger(__name__)


class Heartbeat:
    """When a loop last showed it was turning (monotonic seconds)."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = time.monotonic()

    def beat(self) -> None:
        self.at = time.monotonic()


class Supervisor:
    """Runs named loops until `stop` is set; `down` names those waiting to be started again,
    `stalled()` those alive whose heartbeat has been quiet for longer than `stall_after_s`."""

    def __init__(self, service: str, stop: asyncio.Event, first_backoff: float = 0.5,
                 max_backoff: float = 30.0, stall_after_s: float = 60.0) -> None:
        self.service = service
        self.stop = stop
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.stall_after_s = stall_after_s
        self.down: set[str] = set()
        self._hearts: dict[str, Heartbeat] = {}

    def start(self, name: str, loop: Callable[[], Awaitable[None]],
              heartbeat: Heartbeat | None = None) -> asyncio.Task[None]:
        if heartbeat is not None:
            self._hearts[name] = heartbeat
        return asyncio.create_task(self._keep(name, loop), name=name)

    def stalled(self) -> list[str]:
        """The loops alive (not down) whose heart has not beaten for stall_after_s; the gauge
        follows what each call finds, so it is as fresh as the last /readyz or scrape."""
        now = time.monotonic()
        found = []
        for name, heart in self._hearts.items():
            quiet = name not in self.down and now - heart.at > self.stall_after_s
            BACKGROUND_STALLED.labels(service=self.service, task=name).set(1 if quiet else 0)
            if quiet:
                found.append(name)
        return sorted(found)

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
                if name in self._hearts:
                    self._hearts[name].beat()  # starting again: its quiet counts from now
            backoff = min(backoff * 2, self.max_backoff)
