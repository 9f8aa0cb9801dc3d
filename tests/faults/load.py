"""The fault suite's client: commands sent as a mobile app sends them — each with an
Idempotency-Key, retried with the SAME key after a 503 or a broken connection until it is
acknowledged (2xx) — and a record of everything seen on the way.

The promise under test is about acknowledged commands: every 2xx must be in the read models once.

aiohttp, as bench/load.py: the generator shares 2 cores with the stack it breaks, and httpx cost
~8 ms of CPU per command there (its pool checks every idle connection on every request), more
than enrollment spends handling the command.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

RETRYABLE = {503}


@dataclass
class _Answer:
    status: int
    headers: Mapping[str, str]  # aiohttp's: names are case-insensitive
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


@dataclass
class Sent:
    path: str
    status: int
    body: Any
    attempts: int
    replayed: bool  # the 2xx came from the idempotency record (an earlier attempt had committed)


@dataclass
class Driver:
    # One attempt. Longer than the queueing a loaded stack adds (a retry after a timeout is one
    # more command for a stack already behind), shorter than `give_up`.
    timeout: float = 30.0
    give_up: float = 180.0  # one command, all attempts
    statuses: Counter = field(default_factory=Counter)  # every attempt's status ("conn" = no HTTP answer)
    problems_503: list[dict] = field(default_factory=list)  # a few 503 bodies and headers, for the checks
    unexpected: list[tuple[str, int, str]] = field(default_factory=list)  # non-retryable, non-2xx answers
    transport_errors: Counter = field(default_factory=Counter)
    acked: int = 0
    in_flight: int = 0  # requests sent and not yet answered
    replayed: int = 0
    retried: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds to acknowledgment, retries included
    acked_at: list[float] = field(default_factory=list)  # time.monotonic() of each acknowledgment
    client: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Driver:
        # No cap on connections: while a service is down the requests pile up, and each must meet
        # the stack (refused, reset, or its timeout) rather than a queue in the client. An idle
        # connection is dropped after 2 s, before the services drop it (uvicorn: 5 s), as
        # bench/province.py does: on a loaded machine this loop can hand out a connection the
        # service has just closed before it has read the close, and the request then fails as
        # ClientOSError or ServerDisconnectedError: a client's race, not a request the service
        # dropped. CI at 05:09, 2026-12-05 saw 188 of them in the PostgreSQL scenario while other
        # jobs shared the two cores, with no error in the services' logs (an answer that fails is
        # logged; an idle keep-alive closed is not).
        self.client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=2.0),
                                            timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.client is not None
        await self.client.close()

    async def send(self, base: str, path: str, key: str, headers: dict[str, str], json: Any = None) -> Sent | None:
        """POST until acknowledged; None if a non-retryable answer came (recorded in `unexpected`)."""
        assert self.client is not None
        started, attempts = time.monotonic(), 0
        while True:
            attempts += 1
            self.in_flight += 1
            r: _Answer | None = None
            try:
                async with self.client.post(f"{base}{path}", json=json,
                                            headers={**headers, "Idempotency-Key": key}) as resp:
                    r = _Answer(resp.status, resp.headers, await resp.read())
            except (aiohttp.ClientError, TimeoutError) as exc:  # refused, reset, or no answer within `timeout`
                self.statuses["conn"] += 1
                self.transport_errors[type(exc).__name__] += 1
            finally:
                self.in_flight -= 1
            if r is not None:
                self.statuses[r.status] += 1
                if 200 <= r.status < 300:
                    self.acked += 1
                    replayed = r.headers.get("idempotent-replayed", "").lower() == "true"
                    self.replayed += replayed
                    self.retried += attempts > 1
                    self.acked_at.append(time.monotonic())
                    self.latencies.append(self.acked_at[-1] - started)
                    return Sent(path, r.status, orjson.loads(r.body) if r.body else None, attempts, replayed)
                if r.status == 503:
                    if len(self.problems_503) < 20:
                        self.problems_503.append({"content_type": r.headers.get("content-type"),
                                                  "retry_after": r.headers.get("retry-after"), "body": r.text[:300]})
                elif r.status not in RETRYABLE:
                    self.unexpected.append((path, r.status, r.text[:300]))
                    return None
            if time.monotonic() - started > self.give_up:
                self.unexpected.append((path, -1, f"gave up after {attempts} attempts"))
                return None
            # As the app does: wait what Retry-After says (a dead server says nothing: 0.5 s).
            await asyncio.sleep(float(r.headers.get("retry-after", 0.5)) if r is not None else 0.5)

    @property
    def five_xx_not_503(self) -> dict:
        return {s: n for s, n in self.statuses.items() if isinstance(s, int) and s >= 500 and s != 503}


async def paced(count: int, rate: float, one) -> float:
    """Start `one(i)` for i in range(count) at `rate` per second (open loop: on schedule, whether
    or not earlier ones were answered); wait for all. Returns the seconds from the first start to
    the last, which is what the offered rate is measured by."""
    started = time.monotonic()
    tasks = []
    for i in range(count):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i)))
    sent = time.monotonic() - started
    await asyncio.gather(*tasks)
    return sent
