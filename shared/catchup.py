"""A consumer that fell behind JetStream retention catches up from the owner's record.

Streams keep a bounded history (shared/bus.py Retention): messages older or beyond the limits are
discarded whether or not a consumer has read them. JetStream is the transport, not the record
(DESIGN.md): the owner's event store is, served as its `GET /v1/events` feed. So when a consumer
finds that messages it never received are gone, it reads the owner's feed from the first event
through the same projection and checkpoints as its live path — every event it already applied is
a duplicate and changes nothing, every event it missed applies once, in the owner's order — and
then goes on from JetStream, whose redeliveries of what the feed brought are duplicates too.

How a consumer knows (shared/consumer.py): JetStream numbers a stream's messages 1, 2, 3, …
and delivers new ones to a durable consumer in that order, so
- at (re)subscription: the stream's first sequence is past the next one the consumer was due
  (it was stopped while the stream discarded messages, or its durable was deleted and recreated);
- while consuming: new messages skip sequences (the server passes over discarded ones without a
  word) and the stream, asked with the next lag report, no longer holds the first one skipped;
- a message it handed back (nak) is below the stream's first sequence before it came back:
  JetStream settles a discarded pending message as if acknowledged;
- as a backstop: an event is handed back for a missing predecessor for so long that the
  predecessor will not come.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass

import asyncpg

from .envelope import Envelope
from .projection import Applier, Delivery, Outcome

# Pages of a source's every event from its first, in the owner's order: the owner's /v1/events
# feed for another service's events, the store itself for the service's own (service.py).
FeedOpener = Callable[[str], AsyncIterable[list[Envelope]]]

# An event handed back at least this many times for a missing predecessor counts as a sign of loss
# (early_limit). A failing predecessor is dead-lettered well before: 5 failures with back-offs of
# 0.2 to 3.2 s.
EARLY_DELIVERIES = 100


def early_limit(ack_wait: float, delay: float) -> int:
    """How many times an event is handed back as early (each time at least `delay` seconds apart)
    before its predecessor's absence counts as loss. A consumer that died (kill -9, a lost
    connection) leaves the messages it had fetched pending: JetStream hands them out again only
    `ack_wait` after it delivered them, while their successors, delivered to the restarted
    consumer meanwhile, come early. So loss is presumed only after twice `ack_wait` of hand-backs:
    with a 30 s ack wait and 0.2 s apart, 300 of them, a minute. (At 100, some 20 s, every kill of
    a consumer in the fault runs ended in a needless catch-up reading the owner's whole feed.)"""
    return max(EARLY_DELIVERIES, math.ceil(2 * ack_wait / delay))


def missed(first_seq: int, expected_next: int) -> bool:
    """Whether the stream has discarded messages from `expected_next` on: it now starts after it.
    (An empty stream that never held a message says first 0; one emptied by its limits, last + 1.)"""
    return first_seq > max(expected_next, 1)


def hole(expected_next: int, first: int, last: int, count: int) -> int:
    """The first sequence that `count` new messages, from stream sequence `first` to `last` in
    delivery order, may have passed over; 0 if none. New messages come in sequence order, one each,
    so a hole is a discarded message — or, with replicas sharing a durable, one another replica
    took: `missed` against the stream then tells which. `expected_next` 0: not known yet."""
    if expected_next and first > expected_next:
        return expected_next
    return first + 1 if last - first + 1 > count else 0


@dataclass
class CatchUp:
    read: int = 0
    applied: int = 0
    duplicate: int = 0
    dead: int = 0
    seconds: float = 0.0


class CatchUpStalled(Exception):
    """Some event of the feed neither applied nor dead-lettered after every retry."""


async def catch_up(pool: asyncpg.Pool, applier: Applier, pages: AsyncIterable[list[Envelope]],
                   retry_base_s: float = 0.2) -> CatchUp:
    """Apply every event of `pages` through `applier` (its projection, its checkpoints, its failure
    counts and dead letters: the live path's rules); returns what happened to them. An event whose
    handler fails is retried, counted as one more delivery, until it applies or is dead-lettered."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    done = CatchUp()
    async for events in pages:
        done.read += len(events)
        # Counted as redeliveries: the live path may have failed on some of them, and an event's
        # failure count is cleared when it applies on a redelivery (shared/projection.py).
        batch = [Delivery(e, 2) for e in events]
        for attempt in range(applier.max_deliveries + 3):
            outcomes = await applier.apply(pool, batch)
            done.applied += sum(o is Outcome.APPLIED for o in outcomes)
            done.duplicate += sum(o is Outcome.DUPLICATE for o in outcomes)
            done.dead += sum(o is Outcome.DEAD for o in outcomes)
            # In the owner's order nothing is early, unless its predecessor failed just before.
            batch = [Delivery(d.event, d.deliveries + 1) for d, o in zip(batch, outcomes, strict=True)
                     if not o.settled]
            if not batch:
                break
            await asyncio.sleep(min(retry_base_s * 2.0 ** attempt, 5.0))
        else:
            first = batch[0].event
            raise CatchUpStalled(f"{applier.projection.name}: {len(batch)} events still unsettled, first {first.id} "
                                 f"({first.subject} v{first.stream_version})")
    done.seconds = loop.time() - started
    return done
