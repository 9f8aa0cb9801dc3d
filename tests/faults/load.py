"""The fault suite's client: commands sent as a mobile app sends them — each with an
Idempotency-Key, retried with the SAME key after a 503 or a broken connection until it is
acknowledged (2xx) — and a record of everything seen on the way.

The promise under test is about acknowledged commands: every 2xx must be in the read models once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.faults.http11 import Http11, TransportError

RETRYABLE = {503}


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
    client: Http11 | None = None

    async def __aenter__(self) -> Driver:
        self.client = Http11(self.timeout)
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.client is not None
        await self.client.aclose()

    async def send(self, base: str, path: str, key: str, headers: dict[str, str], json: Any = None) -> Sent | None:
        """POST until acknowledged; None if a non-retryable answer came (recorded in `unexpected`)."""
        assert self.client is not None
        started, attempts = time.monotonic(), 0
        while True:
            attempts += 1
            self.in_flight += 1
            try:
                r = await self.client.post(f"{base}{path}", json, {**headers, "Idempotency-Key": key})
            except TransportError as exc:  # refused, reset, or no answer within `timeout`
                self.statuses["conn"] += 1
                self.transport_errors[exc.kind] += 1
                r = None
            finally:
                self.in_flight -= 1
            if r is not None:
                self.statuses[r.status_code] += 1
                if 200 <= r.status_code < 300:
                    self.acked += 1
                    replayed = r.headers.get("idempotent-replayed", "").lower() == "true"
                    self.replayed += replayed
                    self.retried += attempts > 1
                    self.acked_at.append(time.monotonic())
                    self.latencies.append(self.acked_at[-1] - started)
                    return Sent(path, r.status_code, r.json() if r.content else None, attempts, replayed)
                if r.status_code == 503:
                    if len(self.problems_503) < 20:
                        self.problems_503.append({"content_type": r.headers.get("content-type"),
                                                  "retry_after": r.headers.get("retry-after"), "body": r.text[:300]})
                elif r.status_code not in RETRYABLE:
                    self.unexpected.append((path, r.status_code, r.text[:300]))
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
