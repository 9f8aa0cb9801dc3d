"""The live side of a projection: a durable JetStream pull consumer per (projection, source).

Order of operations per batch: fetch → apply + checkpoint in one transaction → commit → ack.
A crash between commit and ack only causes a redelivery, which the checkpoint absorbs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from . import telemetry
from .bus import Bus, BusNames
from .catchup import FeedOpener, catch_up, early_limit, hole, missed
from .deadletters import PENDING
from .envelope import Envelope
from .projection import Applier, Delivery, Outcome, Projection
from .pull import Puller
from .supervise import Heartbeat

log = logging.getLogger(__name__)


def _ack_field(msg: Msg, index: int) -> int | None:
    """A number of `msg`'s ack subject ($JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.
    <consumer seq>.<time>.<pending>), read without building nats-py's whole Metadata; None when
    the subject has another form (a domain-prefixed one), which Metadata then reads."""
    tokens = msg.reply.split(".") if msg.reply else []
    if len(tokens) == 9 and tokens[0] == "$JS" and tokens[1] == "ACK" and tokens[index].isdigit():
        return int(tokens[index])
    return None


def _deliveries(msg: Msg) -> int:
    """How often JetStream has delivered `msg`."""
    n = _ack_field(msg, 4)
    return n if n is not None else int(msg.metadata.num_delivered)


def _stream_seq(msg: Msg) -> int:
    """The message's sequence in its stream."""
    n = _ack_field(msg, 5)
    return n if n is not None else int(msg.metadata.sequence.stream)


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
    early_delay: float = 0.2  # seconds before an event whose predecessor is missing comes back
    # The source's events from its first, from its owner's record: what the consumer catches up
    # from when JetStream retention discarded messages it had not read (shared/catchup.py).
    feed: FeedOpener | None = None
    lag: int | None = field(default=None, init=False)  # JetStream's count, measured between fetches
    applied: int = field(default=0, init=False)
    catchups: int = field(default=0, init=False)
    behind_reason: str | None = field(default=None, init=False)  # why it last fell behind retention
    # The stream sequence of the next new message due to us (0: not known yet), and why we are
    # behind the stream's retention (None: we are not).
    _expected: int = field(default=0, init=False, repr=False)
    _behind: str | None = field(default=None, init=False, repr=False)
    _hole: int = field(default=0, init=False, repr=False)  # the first sequence new messages skipped (0: none)
    _handed_back: set[int] = field(default_factory=set, init=False, repr=False)  # nak'ed, not yet settled
    _last_catchup: float = field(default=float("-inf"), init=False, repr=False)
    _settling: asyncio.Task[None] | None = field(default=None, init=False, repr=False)  # the last batch's acks
    # Fetched batches (by the list's id) with their parse (_fetch), until handle() takes them.
    _parsed: dict[int, tuple[list[Msg], tuple[list[tuple[Msg, Delivery]], list[Msg]]]] = field(
        default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.applier = Applier(self.projection, self.max_deliveries)
        self.durable = self.names.consumer(self.projection.name)
        self.heartbeat = Heartbeat()  # every turn of its loops and every page of a catch-up (shared/supervise.py)

    @property
    def task_name(self) -> str:
        """Its name as a background loop: in /readyz, the supervisor's metrics, /v1/projections."""
        return f"consume-{self.durable}"

    @property
    def behind(self) -> bool:
        """Behind JetStream retention now: catching up from the owner's feed, or about to."""
        return self._behind is not None

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            self.heartbeat.beat()
            try:
                if not await self.bus.wait_connected(timeout=1.0):
                    continue
                sub = await self._subscribe()
                try:
                    if self._behind is not None:
                        await self._catch_up()
                    backoff = 0.2
                    await self._consume(sub, stop)
                finally:
                    # Its inbox goes (the durable stays): each turn of this loop subscribes anew, and
                    # an inbox never dropped is one subscription more, here and on the server.
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
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
        stream = self.names.stream(self.source)
        try:
            before = await js.consumer_info(stream, self.durable)
        except NotFoundError:
            before = None  # new, or deleted since: it starts at the stream's first message
        config = ConsumerConfig(
            durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait, max_deliver=-1, max_ack_pending=self.batch_size * 4,
            filter_subject=self.names.subjects(self.source),
        )
        sub = await js.pull_subscribe(
            self.names.subjects(self.source), durable=self.durable, stream=stream, config=config,
        )
        # The next new message due to us: after the last delivered to the durable, or after what
        # a catch-up covered (the durable is moved past discarded messages only at its next pull).
        if before is not None and before.delivered is not None:
            self._expected = max(self._expected, int(before.delivered.stream_seq) + 1)
        state = (await js.stream_info(stream)).state
        if self._behind is None and missed(int(state.first_seq), self._expected):
            self._fell_behind(f"the stream starts at {state.first_seq}, the consumer was due "
                              f"{max(self._expected, 1)}{'' if before else ' (its durable was new)'}")
        else:
            self._expected = max(self._expected, int(state.first_seq))  # where a new durable starts
        return sub

    def _check_retention(self, first: int, ack_floor: int) -> None:
        """Whether the stream, now starting at `first`, discarded messages we never applied: new
        ones skipped, or ones we handed back (those at or below the consumer's ack floor that the
        stream still holds were settled by another replica: forgotten)."""
        skipped, self._hole = self._hole, 0
        lost = {seq for seq in self._handed_back if seq < first}
        self._handed_back -= lost | {seq for seq in self._handed_back if seq <= ack_floor}
        if self._behind is not None:
            return
        if skipped and missed(first, skipped):
            self._fell_behind(f"new messages skipped from {skipped} on and the stream now starts at {first}")
        elif lost:
            self._fell_behind(f"{len(lost)} handed-back message(s) from {min(lost)} on were discarded before they "
                              f"came back; the stream now starts at {first}")

    def _fell_behind(self, why: str) -> None:
        self._behind = self.behind_reason = why
        log.warning("projection %s fell behind JetStream retention on %s: %s", self.projection.name, self.source, why)

    async def _catch_up(self) -> None:
        """Apply the source's events from its owner's feed, then let JetStream go on from where
        the feed ended. Raises (and is retried by `run`, JetStream untouched meanwhile) while the
        feed cannot be read: applying later events first would only hand them back as early."""
        self._last_catchup = asyncio.get_running_loop().time()
        if self.feed is None:
            log.error("projection %s: no feed to catch up from on %s; events are missing", self.projection.name,
                      self.source)
            self._behind = None
            return
        # Every message up to the stream's last now was published from the owner's committed
        # events, so the feed, read from here on, holds it.
        last = int((await self.bus.js().stream_info(self.names.stream(self.source))).state.last_seq)
        labels = dict(service=self.service, projection=self.projection.name, source=self.source)
        log.warning("projection %s: catching up on %s from its owner's feed (%s)", self.projection.name, self.source,
                    self._behind)
        try:
            done = await catch_up(self.pool, self.applier, self._beating(self.feed(self.source)))
        except Exception as exc:
            log.warning("projection %s: catching up on %s from its owner's feed failed, retrying: %s",
                        self.projection.name, self.source, exc)
            raise
        self._expected = max(self._expected, last + 1)
        self._handed_back = {seq for seq in self._handed_back if seq > last}  # the feed covered the others
        self._behind = None
        self.catchups += 1
        self.applied += done.applied
        telemetry.PROJECTION_CATCHUPS.labels(**labels).inc()
        telemetry.PROJECTION_CATCHUP_APPLIED.labels(**labels).inc(done.applied)
        telemetry.PROJECTION_APPLIED.labels(service=self.service, projection=self.projection.name).inc(done.applied)
        log.warning("projection %s caught up on %s from its owner's feed: %d events read, %d applied, %d already "
                    "applied, %d dead-lettered in %.1fs; resuming from JetStream", self.projection.name, self.source,
                    done.read, done.applied, done.duplicate, done.dead, done.seconds)
        if done.dead:
            await self._report_dead_letters()

    async def _beating(self, pages: AsyncIterable[list[Envelope]]) -> AsyncIterator[list[Envelope]]:
        """The feed's pages, a heartbeat at each: a catch-up of a long feed is a long turn of
        `run`, but not a stalled one."""
        async for page in pages:
            self.heartbeat.beat()
            yield page

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
                self.heartbeat.beat()
                if self._behind is not None:  # seen in the batch just applied: catch up first (run)
                    break
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
                    await self._nak(msg)

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
                            await self._nak(msg)
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
                await self._nak(msg)

    async def _nak(self, msg: Msg, delay: float | None = None) -> None:
        """Hand a message back, noting its sequence until it is settled: should the stream discard
        it meanwhile, JetStream settles it without a word, and `_report_lag` notices."""
        self._handed_back.add(_stream_seq(msg))
        await msg.nak(delay=delay)

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
        self._note_sequences(parsed, unreadable)
        if not parsed:
            return
        try:
            outcomes = await self.applier.apply(self.pool, [d for _, d in parsed])
        except Exception:
            for msg, d in parsed:
                await self._nak(msg, _retry_delay(d.deliveries))
            raise
        settled = [d.event.position for (_, d), o in zip(parsed, outcomes, strict=True)
                   if o.settled and d.event.position]
        if settled:
            telemetry.PROJECTION_LAST_POSITION.labels(service=self.service, projection=self.projection.name).set(
                max(settled))
        if any(o is Outcome.DEAD for o in outcomes):
            await self._report_dead_letters()
        limit = early_limit(self.ack_wait, self.early_delay)
        if self._behind is None and any(o is Outcome.EARLY and d.deliveries >= limit
                                        for (_, d), o in zip(parsed, outcomes, strict=True)):
            # At most once in 5 minutes: a predecessor the feed does not have either must not
            # turn into a catch-up loop.
            if asyncio.get_running_loop().time() - self._last_catchup > 300:
                self._fell_behind(f"an event was handed back {limit} times for a predecessor that never came")
        # Only now, after COMMIT. The acks go out while the next batch's first statement runs
        # (the previous batch's are out first); `applied` counts a batch once its acks are sent.
        await self._settled()
        self._settling = asyncio.ensure_future(self._settle(parsed, outcomes))

    def _note_sequences(self, parsed: list[tuple[Msg, Delivery]], unreadable: list[Msg]) -> None:
        """Note where new messages skip sequences; `_report_lag` asks the stream whether the
        skipped ones are gone. Of the readable ones only the first and last are read: in between
        they come one by one."""
        new = [msg for msg, d in parsed if d.deliveries == 1]
        seqs = [_stream_seq(m) for m in (new[0], new[-1])] if new else []
        extra = [m for m in unreadable if _deliveries(m) == 1]
        seqs += [_stream_seq(m) for m in extra]
        if not seqs:
            return
        first, last = min(seqs), max(seqs)
        skipped = hole(self._expected, first, last, len(new) + len(extra))
        if skipped:
            self._hole = min(self._hole, skipped) if self._hole else skipped
        self._expected = max(self._expected, last + 1)

    async def _settle(self, parsed: list[tuple[Msg, Delivery]], outcomes: list[Outcome]) -> None:
        # One ack per message (a pull consumer with explicit acks has no cumulative ack). Each is a
        # buffered publish; none waits for the server.
        back = self._handed_back
        for (msg, d), outcome in zip(parsed, outcomes, strict=True):
            if outcome.settled:
                await msg.ack()
                if back and d.deliveries > 1:  # only a redelivery can have been handed back
                    back.discard(_stream_seq(msg))
            elif outcome is Outcome.EARLY:
                await self._nak(msg, self.early_delay)
            else:
                await self._nak(msg, _retry_delay(d.deliveries))
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
        if self._hole or self._handed_back:
            with contextlib.suppress(Exception):  # asked again next time
                first = int((await self.bus.js().stream_info(self.names.stream(self.source))).state.first_seq)
                self._check_retention(first, int(info.ack_floor.stream_seq) if info.ack_floor else 0)
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
