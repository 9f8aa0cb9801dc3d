"""A small in-memory token bucket per client, for the public certificate verification endpoint
(no login there, so it must not become a free oracle for guessing certificate numbers).

In-memory means per process: with N replicas a client gets up to N × the rate. That is accepted
here (the numbers carry 80 random bits, so the limit guards load rather than secrecy); a shared
limit would live in the ingress or in NATS KV. The table is bounded: when it is full, buckets
that have refilled completely are dropped first (they carry no information), then the oldest.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate: float, burst: int, max_clients: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0.0 if allowed (one token taken), else the seconds until a token is available."""
        now = self.clock()
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._store(key, tokens - 1.0, now)
            return 0.0
        self._store(key, tokens, now)
        return (1.0 - tokens) / self.rate if self.rate > 0 else 60.0

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)  # most recently used last
        if len(self._buckets) > self.max_clients:
            full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * self.rate >= self.burst]
            for k in full[: len(self._buckets) - self.max_clients]:
                del self._buckets[k]
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
