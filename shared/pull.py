"""Batches from a durable JetStream pull consumer, through one inbox subscription of our own.

nats-py's `PullSubscription.fetch` waits for each message of a batch on its own (`next_msg`: a
timer and a task per message), which cost ~30 µs a message on the benchmark machine — more than
parsing and applying a reporting event. Here one subscription callback collects messages into a
list and one future says when a batch is complete. The JetStream side is the same: pull requests
to `CONSUMER.MSG.NEXT`, the same messages with the same ack subjects, so acks, naks, ack_wait and
redelivery count are unchanged (the consumer, its durable and its config still come from
`js.pull_subscribe`).

Each pull request replies to its own subject under our inbox, so a status that ends a request
(404 no messages, 408 expired) is told apart from one that ends an older request. Messages a
request brings after its fetch returned are kept and handed out by the next fetch.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

API_PREFIX = "$JS.API"
# No messages (now), the request expired, or a conflict nats-py's fetch also takes as temporary
# (e.g. max ack pending reached): the request delivers nothing more; the next fetch asks again.
_ENDED = frozenset({"404", "408", "409"})
_HEARTBEAT = "100"


class PullError(Exception):
    """JetStream refused a pull request (a 409: consumer deleted, too many waiting requests, …)."""


class Puller:
    def __init__(self, nc: Client, stream: str, durable: str, api_prefix: str = API_PREFIX) -> None:
        self._nc = nc
        self._next = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._requests = 0
        self._current = ""  # the reply subject of the request a fetch waits on
        self._msgs: list[Msg] = []  # delivered, not yet handed out
        self._want = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: PullError | None = None

    async def start(self) -> Puller:
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_msg)
        return self

    async def stop(self) -> list[Msg]:
        """Unsubscribe; returns the messages delivered but never handed out (for the caller to nak)."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        left, self._msgs = self._msgs, []
        return left

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to `batch` messages: those already delivered, then what the stream has now; with
        none at all, the first to arrive within `timeout` (and whatever comes with it). [] if none."""
        if len(self._msgs) < batch:
            await self._request({"batch": batch - len(self._msgs), "no_wait": True})
            await self._wait(batch, timeout)
            if not self._msgs and self._error is None:
                # Nothing there: one request that waits (server side) up to `timeout` for messages.
                await self._request({"batch": batch, "expires": max(int((timeout - 0.05) * 1e9), 1_000_000)})
                await self._wait(1, timeout)
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        msgs, self._msgs = self._msgs[:batch], self._msgs[batch:]
        return msgs

    async def _request(self, body: dict[str, object]) -> None:
        self._requests += 1
        self._current = f"{self._inbox}.{self._requests}"
        await self._nc.publish(self._next, orjson.dumps(body), reply=self._current)

    async def _wait(self, want: int, timeout: float) -> None:
        """Until `want` messages are in hand, the current request ends, or `timeout`."""
        if len(self._msgs) >= want:
            return
        self._want = want
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        except TimeoutError:
            pass
        finally:
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _on_msg(self, msg: Msg) -> None:
        headers = msg.headers
        status = headers.get("Status") if headers else None
        if status is None:
            self._msgs.append(msg)
            if len(self._msgs) >= self._want:
                self._wake()
            return
        if status == _HEARTBEAT:
            return
        if status not in _ENDED:
            self._error = PullError(f"{status} {headers.get('Description', '') if headers else ''}".strip())
            self._wake()
        elif msg.subject == self._current:
            self._wake()  # an older request's end says nothing about the one waited on
