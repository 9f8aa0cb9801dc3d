"""The live side of a projection: a durable JetStream pull consumer per (projection, source).

Order of operations per batch: fetch → apply + checkpoint in one transaction → commit → ack.
A crash between commit and ack only causes a redelivery, which the checkpoint absorbs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from . import telemetry
from .bus import Bus, BusNames
from .deadletters import PENDING
from .envelope import Envelope
from .projection import Applier, Delivery, Outcome, Projection
from .pull import Puller

log = logging.getLogger(__name__)


def _deliveries(msg: Msg) -> int:
    """How often JetStream has delivered `msg`, read straight from its ack subject
    ($JS.ACK.<stream>.<consumer>.<delivered>.…) without building nats-py's whole Metadata."""
    tokens = msg.reply.split(".", 5) if msg.reply else []
    if len(tokens) == 6 and tokens[0] == "$JS" and tokens[1] == "ACK" and tokens[4].isdigit() \
            and tokens[5].count(".") == 3:
        return int(tokens[4])
    return int(msg.metadata.num_delivered)


_PARSE_SLICE = 32  # messages parsed between two chances for the applying batch to go on


def _retry_delay(deliveries: int) -> float:
    return min(0.2 * 2.0 ** max(deliveries - 1, 0), 10.0)


@dataclass
class ProjectionConsumer:
    """`projection` applied from `source`'s stream through one durable pull consumer."""

    pool: asyncpg.Pool
    bus: Bus
    names: BusNames
    projection: Projection
    source: str
    service: str
    batch_size: int = 256
    max_deliveries: int = 5
    ack_wait: float = 30.0
    lag: int | None = field(default=None, init=False)  # JetStream's count, measured between fetches
    applied: int = field(default=0, init=False)
    _settling: asyncio.Task[None] | None = field(default=None, init=False, repr=False)  # the last batch's acks
    # Fetched batches (by the list's id) with their parse (_fetch), until handle() takes them.
    _parsed: dict[int, tuple[list[Msg], tuple[list[tuple[Msg, Delivery]], list[Msg]]]] = field(
        default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.applier = Applier(self.projection, self.max_deliveries)
        self.durable = self.names.consumer(self.projection.name)

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                if not await self.bus.wait_connected(timeout=1.0):
                    continue
                sub = await self._subscribe()
                backoff = 0.2
                await self._consume(sub, stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS or PostgreSQL away: back off and resubscribe
                log.warning("projection %s consumer error: %s", self.projection.name, exc)
                try:
                    await asyncio.wait_for(stop.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, 5.0)

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        js = self.bus.js()
        config = ConsumerConfig(
            durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait, max_deliver=-1, max_ack_pending=self.batch_size * 4,
            filter_subject=self.names.subjects(self.source),
        )
        return await js.pull_subscribe(
            self.names.subjects(self.source), durable=self.durable,
            stream=self.names.stream(self.source), config=config,
        )

    async def _consume(self, sub: JetStreamContext.PullSubscription, stop: asyncio.Event) -> None:
        """Fetch → apply → ack, with the next fetch already under way while a batch is applied
        (its messages wait, unacked, until their own turn: order and exactly-once are unchanged).
        Batches are pulled through our own inbox (shared/pull.py), one fetch at a time."""
        assert self.bus.nc is not None  # connected: _subscribe just used it
        puller = await Puller(self.bus.nc, self.names.stream(self.source), self.durable).start()
        polls = 0
        ahead: asyncio.Task[list[Msg]] | None = asyncio.ensure_future(self._fetch(puller))
        try:
            while ahead is not None:
                msgs = await ahead
                # Stopping: the batch in hand is still applied and acked, nothing more is fetched.
                ahead = None if stop.is_set() else asyncio.ensure_future(self._fetch(puller))
                if polls % 10 == 0 or not msgs:
                    await self._report_lag(sub)
                polls += 1
                if msgs:
                    await self.handle(msgs)
        finally:
            try:
                await self._settled()
            except Exception as exc:  # those messages come back after ack_wait; checkpoints absorb them
                log.warning("projection %s: acks not sent: %s", self.projection.name, exc)
            if ahead is not None:
                await self._hand_back(ahead)
            # Delivered to us after the last fetch: back now rather than after ack_wait.
            for msg in await puller.stop():
                with contextlib.suppress(Exception):
                    await msg.nak()

    async def _fetch(self, puller: Puller) -> list[Msg]:
        msgs = await puller.fetch(self.batch_size, timeout=1.0)
        if not msgs:
            return msgs
        # Parsed here, in the fetch made ahead: its messages arrive while the batch before them
        # applies, so their parsing fills that batch's waits on PostgreSQL instead of coming after
        # it. A slice at a time, giving way in between: when the applying batch's statement
        # answers, it goes on at once. handle() takes the result when handed this very list.
        parsed: list[tuple[Msg, Delivery]] = []
        unreadable: list[Msg] = []
        for i in range(0, len(msgs), _PARSE_SLICE):
            if i:
                try:
                    await asyncio.sleep(0)
                except asyncio.CancelledError:  # handed back mid-parse: these come back now too
                    for msg in msgs:
                        with contextlib.suppress(Exception):
                            await msg.nak()
                    raise
            more, bad = self._parse(msgs[i:i + _PARSE_SLICE])
            parsed += more
            unreadable += bad
        if len(self._parsed) > 2:  # left by a handle() that did not take its own (tests override it)
            self._parsed.clear()
        self._parsed[id(msgs)] = (msgs, (parsed, unreadable))
        return msgs

    async def _hand_back(self, ahead: asyncio.Task[list[Msg]]) -> None:
        """A fetch made ahead but never applied (an error, a cancel): its messages are nak'ed at
        once, so they come back now instead of after ack_wait."""
        ahead.cancel()  # nothing if it is done already
        try:
            msgs = await ahead
        except BaseException:  # cancelled or failed: no message was handed to us
            return
        for msg in msgs:
            with contextlib.suppress(Exception):
                await msg.nak()

    def _parse(self, msgs: list[Msg]) -> tuple[list[tuple[Msg, Delivery]], list[Msg]]:
        """(each readable message with its delivery, the unreadable ones)."""
        parsed: list[tuple[Msg, Delivery]] = []
        unreadable: list[Msg] = []
        from_json = Envelope.from_json
        for msg in msgs:
            try:
                env = from_json(msg.data)
            except Exception:
                unreadable.append(msg)
                continue
            headers = msg.headers
            parsed.append((msg, Delivery(env, _deliveries(msg), headers.get("traceparent") if headers else None)))
        return parsed, unreadable

    async def handle(self, msgs: list[Msg]) -> None:
        ahead = self._parsed.pop(id(msgs), None)
        parsed, unreadable = ahead[1] if ahead is not None and ahead[0] is msgs else self._parse(msgs)
        for msg in unreadable:
            # Not an envelope at all: no retry can ever apply it. Terminate and log.
            log.error("projection %s: unreadable message on %s terminated", self.projection.name, msg.subject)
            await msg.term()
        if not parsed:
            return
        try:
            outcomes = await self.applier.apply(self.pool, [d for _, d in parsed])
        except Exception:
            for msg, d in parsed:
                await msg.nak(delay=_retry_delay(d.deliveries))
            raise
        settled = [d.event.position for (_, d), o in zip(parsed, outcomes, strict=True)
                   if o.settled and d.event.position]
        if settled:
            telemetry.PROJECTION_LAST_POSITION.labels(service=self.service, projection=self.projection.name).set(
                max(settled))
        if any(o is Outcome.DEAD for o in outcomes):
            await self._report_dead_letters()
        # Only now, after COMMIT. The acks go out while the next batch's first statement runs
        # (the previous batch's are out first); `applied` counts a batch once its acks are sent.
        await self._settled()
        self._settling = asyncio.ensure_future(self._settle(parsed, outcomes))

    async def _settle(self, parsed: list[tuple[Msg, Delivery]], outcomes: list[Outcome]) -> None:
        # One ack per message (a pull consumer with explicit acks has no cumulative ack). Each is a
        # buffered publish; none waits for the server.
        for (msg, d), outcome in zip(parsed, outcomes, strict=True):
            if outcome.settled:
                await msg.ack()
            elif outcome is Outcome.EARLY:
                await msg.nak(delay=0.2)
            else:
                await msg.nak(delay=_retry_delay(d.deliveries))
        n = sum(o is Outcome.APPLIED for o in outcomes)
        self.applied += n
        telemetry.PROJECTION_APPLIED.labels(service=self.service, projection=self.projection.name).inc(n)

    async def _settled(self) -> None:
        """Wait for the last batch's acks to be sent; raises what sending them raised."""
        if self._settling is not None:
            task, self._settling = self._settling, None
            await task

    async def _report_lag(self, sub: JetStreamContext.PullSubscription) -> None:
        try:
            info = await sub.consumer_info()
        except Exception:
            return
        self.lag = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        telemetry.PROJECTION_LAG.labels(service=self.service, projection=self.projection.name).set(self.lag)
        await self._report_dead_letters()  # also catches replays done elsewhere (ttadmin)

    async def _report_dead_letters(self) -> None:
        try:
            n = await self.pool.fetchval(
                f"SELECT count(*) FROM dead_letters WHERE projection = $1 AND {PENDING}",
                self.projection.name)
        except Exception:  # the database is away: the gauge keeps its last value
            return
        telemetry.DEAD_LETTERS.labels(service=self.service, projection=self.projection.name).set(n)


async def stream_source(bus: Bus, names: BusNames, source: str, batch: int = 500) -> AsyncIterator[list[Envelope]]:
    """Every event still held in `source`'s stream, from its first message (for rebuilds)."""
    js = bus.js()
    sub = await js.pull_subscribe(
        names.subjects(source), durable=None, stream=names.stream(source),
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
                              inactive_threshold=60.0),
    )
    try:
        while True:
            info = await sub.consumer_info()
            if not info.num_pending:
                return
            try:
                msgs = await sub.fetch(min(batch, info.num_pending), timeout=2.0)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            yield [Envelope.from_json(m.data) for m in msgs]
    finally:
        await sub.unsubscribe()
