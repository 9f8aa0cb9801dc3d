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
from nats.js.api import DiscardPolicy, StorageType, StreamConfig
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
        self._js: JetStreamContext | None = None
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
        """The connection's one JetStream context. One, not one per call: a context's first
        `publish_async` subscribes an inbox of its own for the acks and never lets it go, so a
        context per relay batch left a subscription (its task, queue and the context itself)
        behind on every batch: the heap grew by thousands of objects a second under load, and
        the full collections walking it stalled the event loop for longer and longer (150-180 ms
        after a minute of make bench, docs/benchmarks.md). The subscription survives reconnects
        (the client re-subscribes its own)."""
        if self.nc is None:
            raise ConnectionError("NATS not connected yet")
        if self._js is None:
            self._js = self.nc.jetstream()
        return self._js

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.close(), 5)
            except (TimeoutError, Exception):  # closing a dead link must not block shutdown
                log.debug("NATS close did not finish cleanly", exc_info=True)


@dataclass(frozen=True)
class Retention:
    """How much of its history a stream keeps (docs/operations.md, "JetStream retention").

    JetStream is the transport, not the record: past these limits the oldest messages are
    discarded (DiscardPolicy.OLD, publishes never fail for it), and a consumer that had not read
    them catches up from the owner's `/v1/events` feed (shared/catchup.py). 0 means no limit.
    """

    max_age_s: float = 0.0
    max_bytes: int = 0
    max_msgs: int = 0

    def apply(self, config: StreamConfig) -> None:
        # JetStream's "unlimited" is 0 for the age and -1 for the counts.
        config.max_age = self.max_age_s if self.max_age_s > 0 else 0
        config.max_bytes = self.max_bytes if self.max_bytes > 0 else -1
        config.max_msgs = self.max_msgs if self.max_msgs > 0 else -1
        config.discard = DiscardPolicy.OLD
        if self.max_age_s > 0:
            # JetStream refuses a duplicate window longer than the stream keeps messages.
            config.duplicate_window = min(config.duplicate_window, self.max_age_s)

    def differs(self, current: StreamConfig) -> bool:
        want = StreamConfig()
        self.apply(want)
        # max_age comes back in seconds converted from nanoseconds: compare with a tolerance.
        return (abs(float(current.max_age or 0) - float(want.max_age or 0)) > 1e-3
                or (current.max_bytes or -1) != want.max_bytes or (current.max_msgs or -1) != want.max_msgs)


UNLIMITED = Retention()


async def ensure_stream(
    js: JetStreamContext, names: BusNames, service: str, duplicate_window_s: float = 120.0, replicas: int = 1,
    retention: Retention = UNLIMITED, owner: bool = True,
) -> None:
    """Create or update the service's stream; safe to call from every replica at every start.

    Every service provisions the streams it consumes too (whoever starts first creates them), but
    only the `owner` brings an existing stream's retention to its settings: the consumers' settings
    would otherwise fight over the owner's stream at each start."""
    config = StreamConfig(
        name=names.stream(service),
        subjects=[names.subjects(service)],
        storage=StorageType.FILE,
        duplicate_window=duplicate_window_s,
        num_replicas=replicas,
    )
    retention.apply(config)
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
    if not owner:
        # Keep the owner's limits (and the duplicate window they bound) when fixing the subjects.
        config.max_age, config.max_bytes, config.max_msgs = current.max_age, current.max_bytes, current.max_msgs
        config.duplicate_window = current.duplicate_window
        if current.subjects != config.subjects:
            await js.update_stream(config)
        return
    window_moved = abs(float(current.duplicate_window or 0) - float(config.duplicate_window or 0)) > 1e-3
    if current.subjects != config.subjects or window_moved or retention.differs(current):
        log.info("stream %s: updating its config (retention %s)", config.name, retention)
        await js.update_stream(config)
