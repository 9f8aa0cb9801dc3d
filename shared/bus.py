"""NATS JetStream: naming, the connection every service keeps, idempotent stream setup.

JetStream is the transport, not the record (DESIGN.md): a service must keep accepting
commands while NATS is down, so the connection is made in the background and retried forever;
nothing on the command path waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BusNames:
    """Stream and subject names. `namespace` isolates tests (and could isolate tenants)."""

    namespace: str = ""

    def _prefix(self) -> str:
        return f"{self.namespace}." if self.namespace else ""

    def stream(self, service: str) -> str:
        raw = f"{self.namespace}_{service}" if self.namespace else service
        return raw.upper().replace(".", "_").replace("-", "_")

    def subjects(self, service: str) -> str:
        return f"{self._prefix()}{service}.>"

    def subject(self, service: str, category: str, event_type: str) -> str:
        # service.category.Type lets a consumer filter by aggregate or by event type.
        return f"{self._prefix()}{service}.{category}.{event_type}"

    def consumer(self, projection: str) -> str:
        return projection.replace(".", "_")


class Bus:
    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self.nc: NATS | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._connect(), name=f"nats-connect-{self.name}")

    async def _connect(self) -> None:
        async def disconnected() -> None:
            self._connected.clear()
            log.warning("NATS disconnected")

        async def reconnected() -> None:
            self._connected.set()
            log.info("NATS reconnected")

        async def error(exc: Exception) -> None:
            log.debug("NATS error: %s", exc)

        # max_reconnect_attempts=-1 also makes the first connect retry until NATS is there.
        # NATS_URL may name every node of a cluster, comma-separated (as the Go client takes it).
        servers = [u.strip() for u in self.url.split(",") if u.strip()]
        self.nc = await nats.connect(
            servers, name=self.name, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
            connect_timeout=2, disconnected_cb=disconnected, reconnected_cb=reconnected,
            error_cb=error, ping_interval=5, max_outstanding_pings=2,
        )
        self._connected.set()
        log.info("NATS connected to %s", self.url)

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def wait_connected(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return self.connected

    def js(self) -> JetStreamContext:
        if self.nc is None:
            raise ConnectionError("NATS not connected yet")
        return self.nc.jetstream()

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.close(), 5)
            except (TimeoutError, Exception):  # closing a dead link must not block shutdown
                log.debug("NATS close did not finish cleanly", exc_info=True)


async def ensure_stream(
    js: JetStreamContext, names: BusNames, service: str, duplicate_window_s: float = 120.0, replicas: int = 1
) -> None:
    """Create or update the service's stream; safe to call from every replica at every start."""
    config = StreamConfig(
        name=names.stream(service),
        subjects=[names.subjects(service)],
        storage=StorageType.FILE,
        duplicate_window=duplicate_window_s,
        num_replicas=replicas,
    )
    try:
        info = await js.stream_info(names.stream(service))
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except Exception:
            # Another replica created it between our check and our add.
            info = await js.stream_info(names.stream(service))
    current = info.config
    if current.subjects != config.subjects or current.duplicate_window != config.duplicate_window:
        await js.update_stream(config)
