"""A closed-loop HTTP load generator: C concurrent clients, N requests in all, per-request
latency recorded. The same generator drives our services and the baselines, so its own cost
is in both sides of every ratio.

aiohttp, not httpx: on this 2-core machine httpx's pool tops out near 400 req/s and falls to
~170 req/s at 32 connections even against a no-op GET, which would hide the server in the
client's own cost; aiohttp keeps the generator well above the servers it measures."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0

    @property
    def p99(self) -> float:
        return self.pct(99)


# request(i) -> (method, url, json body or None, headers)
RequestFactory = Callable[[int], tuple[str, str, Any, dict[str, str]]]


async def run_load(base_url: str, make_request: RequestFactory, total: int, concurrency: int,
                   ok: Callable[[int], bool] = lambda s: 200 <= s < 300) -> LoadResult:
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)

    async with aiohttp.ClientSession(base_url, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def worker() -> None:
            nonlocal errors
            for i in counter:
                method, url, body, headers = make_request(i)
                data = orjson.dumps(body) if body is not None else None
                if data is not None:
                    headers = {**headers, "Content-Type": "application/json"}
                t0 = time.perf_counter()
                async with session.request(method, url, data=data, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
                latencies.append((time.perf_counter() - t0) * 1000)
                if not ok(status):
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(total, errors, elapsed, latencies)
