"""HTTP load generators with per-request latency, shared by our services and the baselines, so
the generator's own cost is in both sides of every ratio.

- closed loop (`run_load`): C concurrent clients, N requests in all; each client sends its next
  request when the previous one answered. Measures the throughput a server sustains.
- open loop (`run_open_loop`): requests start on a fixed schedule (rate R), whether or not the
  earlier ones have answered. Latency counts from the *scheduled* start, so a server (or a client)
  that falls behind shows it in the percentiles instead of quietly lowering the load
  (no coordinated omission). Measures latency at a given load.

aiohttp, not httpx: on this 2-core machine httpx's pool tops out near 400 req/s and falls to
~170 req/s at 32 connections even against a no-op GET, which would hide the server in the
client's own cost; aiohttp keeps the generator well above the servers it measures."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of `values` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


STALL = 20  # p99 / p50 from which a run's tail counts as a stall (LoadResult.stalled)


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    offered_rate: float | None = None  # open loop: the schedule's rate (requests/s)

    @property
    def throughput(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0

    @property
    def p99(self) -> float:
        return self.pct(99)

    @property
    def stalled(self) -> bool:
        """The run's tail is a stall, not its service time: p99 at STALL × p50 or more. An open-loop
        baseline that stalled is no reference for a p99 ratio: on 2026-12-06 the bare insert's p99
        was 1,384 ms against a p50 of 1.2 (a stall of about a second), and nominate's 53 ms "met"
        ≤ 4× of it. Healthy runs of the bare insert stay at 2-5× (docs/benchmarks.md)."""
        return bool(self.latencies_ms) and self.p99 >= STALL * self.p50


@contextlib.asynccontextmanager
async def _collector_off() -> AsyncIterator[None]:
    """No garbage collection in the generator while a run is timed. Its heap holds every
    request's tokens and ids, so its full collections took 60-110 ms each on the bench machine,
    and each one stalled whichever side was being measured at the time: the baseline's open-loop
    p99 went from 3 ms to 30 ms in one run of two. The collector catches up after the run."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# request(i) -> (method, url, json body or None, headers)
RequestFactory = Callable[[int], tuple[str, str, Any, dict[str, str]]]
# done(i, status, monotonic seconds when the response was read): open loop only
DoneCallback = Callable[[int, int, float], None]


def _encode(body: Any, headers: dict[str, str]) -> tuple[bytes | None, dict[str, str]]:
    if body is None:
        return None, headers
    if isinstance(body, bytes):
        return body, headers
    return orjson.dumps(body), {**headers, "Content-Type": "application/json"}


async def run_load(base_url: str, make_request: RequestFactory, total: int, concurrency: int,
                   ok: Callable[[int], bool] = lambda s: 200 <= s < 300) -> LoadResult:
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)

    async with _collector_off(), aiohttp.ClientSession(base_url, connector=connector,
                                                       timeout=aiohttp.ClientTimeout(total=120)) as session:
        async def worker() -> None:
            nonlocal errors
            for i in counter:
                method, url, body, headers = make_request(i)
                data, headers = _encode(body, headers)
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


async def run_open_loop(base_url: str, make_request: RequestFactory, rate: float, total: int,
                        max_connections: int = 256, on_done: DoneCallback | None = None,
                        ok: Callable[[int], bool] = lambda s: 200 <= s < 300, warm: int = 0) -> LoadResult:
    """Start request i at t0 + i / rate. `seconds` runs from t0 to the last answer, so the
    throughput is the rate actually achieved; with more requests in flight than
    `max_connections` the rest wait in the client, and that wait counts in their latency.
    The first `warm` of the `total` requests are the same schedule's warm-up: sent, their
    failures counted, their latencies not, and t0 is the first timed request's start."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=max_connections)
    last_done = 0.0

    async with _collector_off(), aiohttp.ClientSession(base_url, connector=connector,
                                                       timeout=aiohttp.ClientTimeout(total=300)) as session:
        async def one(i: int, scheduled: float) -> None:
            nonlocal errors, last_done
            method, url, body, headers = make_request(i)
            data, headers = _encode(body, headers)
            try:
                async with session.request(method, url, data=data, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            done = time.perf_counter()
            last_done = max(last_done, done)
            if i >= warm:
                latencies.append((done - scheduled) * 1000)
            if not ok(status):
                errors += 1
            if on_done is not None:
                on_done(i, status, done)

        started = time.perf_counter()
        tasks = []
        for i in range(total):
            scheduled = started + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
    timed_from = started + warm / rate
    return LoadResult(total - warm, errors, (last_done or time.perf_counter()) - timed_from, latencies,
                      offered_rate=rate)
