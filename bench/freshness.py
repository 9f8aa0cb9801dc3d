"""End-to-end freshness: from a completion's 2xx to the teacher's transcript showing the hours.

The path measured: POST /v1/enrollments/{id}/complete (enrollment service) → its outbox relay →
JetStream → the credits service's intake consumer (HoursAwarded and the ledger entry, in one
transaction) → GET /v1/teachers/{id}/transcript (credits service, the teacher's own token).

Completions go out open loop at a fixed rate (bench/load.py). A sample of them (about `probes`
per second) is followed from the moment the completion's 2xx was read: one indexed query every
`poll_ms` on credits' ledger table looks for all sampled teachers still waiting, and as soon as a
teacher's award is committed, that teacher's transcript is requested (again every `poll_ms`
until it lists the enrollment — in practice the first request does). Freshness is the time from
the 2xx to the end of the transcript response that shows it: it includes one transcript request,
as a teacher opening the app would see it, and is exact to `poll_ms`. Watching the table instead
of polling every transcript keeps the probes' own load on credits to one request per sample.

The rate the service actually achieved is reported next to the rate offered: when completions
answer slower than they are sent, the offered rate is not reached, and the figure says so. A rate
counts as sustained when 95 % of it was achieved and the completions' own p99 (from their
scheduled start) stayed within SUSTAINED_P99_MS, i.e. no queue built up.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
import asyncpg
import httpx

from bench.load import LoadResult, percentile, run_open_loop
from bench.seed import PROVINCE, World
from bench.stack import Stack

SUSTAINED_P99_MS = 1000
POLICY = {"effective_from": "2020-09-01", "cycle_years": 5, "cycle_start_year": 2020, "hours_per_credit": 20,
          "annual_hours": 72, "cycle_hours": 360}


@dataclass
class Freshness:
    offered: float  # completions per second sent
    commands: LoadResult  # the completions themselves (latency from their scheduled start)
    fresh_ms: list[float] = field(default_factory=list)
    timeouts: int = 0

    @property
    def achieved(self) -> float:
        return self.commands.throughput

    @property
    def sustained(self) -> bool:
        """The service kept up: 95 % of the offered rate answered, and no queue built up (a queue
        shows first in the completions' own p99, counted from their scheduled start)."""
        return self.achieved >= 0.95 * self.offered and self.commands.p99 <= SUSTAINED_P99_MS

    @property
    def p50(self) -> float:
        return percentile(self.fresh_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.fresh_ms, 99)

    @property
    def errors(self) -> int:
        return self.commands.errors + self.timeouts


async def start_credits(stack: Stack, world: World) -> tuple[str, str]:
    """The credits service on its own database, following enrollment's stream; our province's
    policy published. Returns (url, database url) once it has caught up with enrollment."""
    db = await stack.database("bench_credits")
    url = await stack.serve("services.credits.main:app", stack.service_env(db))
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        r = await client.put(f"/v1/policies/{PROVINCE}", json=POLICY, headers=world.auth("province_admin", PROVINCE))
        r.raise_for_status()
    await caught_up(world.db, db)
    return url, db


async def caught_up(enrollment_db: str, credits_db: str, timeout: float = 600) -> None:
    """Wait until credits' intake projection has applied enrollment's last event."""
    enr, cre = await asyncpg.connect(enrollment_db), await asyncpg.connect(credits_db)
    try:
        head = await enr.fetchval("SELECT coalesce(max(position), 0) FROM events")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            at = await cre.fetchval("SELECT last_position FROM projection_state WHERE projection = 'credits_intake'")
            if at is not None and at >= head:
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"credits did not catch up with enrollment's position {head} in {timeout:.0f}s")
    finally:
        await enr.close()
        await cre.close()


async def measure(world: World, credits_url: str, credits_db: str, enrollments: list[tuple[str, str]], rate: float,
                  seconds: float, probes: float = 50, poll_ms: float = 5, probe_timeout: float = 120) -> Freshness:
    total = min(len(enrollments), max(1, int(rate * seconds)))
    todo = enrollments[:total]
    del enrollments[:total]  # completed now: not usable again
    every = max(1, round(rate / probes))
    host = world.auth("host", world.host_id)
    tokens = {i: world.auth("teacher", sub=todo[i][1]) for i in range(0, total, every)}
    result = Freshness(rate, LoadResult(0, 0, 0.0, []))
    waiting: dict[uuid.UUID, tuple[int, float]] = {}  # teacher -> (request index, when its 2xx was read)
    confirms: list[asyncio.Task] = []
    sending = True

    async with aiohttp.ClientSession(credits_url, connector=aiohttp.TCPConnector(limit=64),
                                     timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def confirm(i: int, answered: float) -> None:
            """The teacher opens their transcript: freshness ends when it lists the enrollment."""
            eid, tid = todo[i]
            while True:
                async with session.get(f"/v1/teachers/{tid}/transcript", headers=tokens[i]) as resp:
                    body = await resp.read()
                    status = resp.status
                now = time.perf_counter()
                if status == 200 and eid.encode() in body:
                    result.fresh_ms.append((now - answered) * 1000)
                    return
                if now - answered > probe_timeout:
                    result.timeouts += 1
                    return
                await asyncio.sleep(poll_ms / 1000)

        async def watch() -> None:
            """One indexed query every `poll_ms` for all probed teachers still waiting: as soon as the
            award is committed in credits' ledger, that teacher's transcript is requested."""
            conn = await asyncpg.connect(credits_db)
            try:
                while sending or waiting:
                    if waiting:
                        found = await conn.fetch("SELECT teacher_id FROM entries WHERE teacher_id = ANY($1::uuid[])",
                                                 list(waiting))
                        now = time.perf_counter()
                        for r in found:
                            i, answered = waiting.pop(r["teacher_id"])
                            confirms.append(asyncio.create_task(confirm(i, answered)))
                        for tid, (_, answered) in list(waiting.items()):
                            if now - answered > probe_timeout:
                                del waiting[tid]
                                result.timeouts += 1
                    await asyncio.sleep(poll_ms / 1000)
            finally:
                await conn.close()

        def done(i: int, status: int, at: float) -> None:
            if 200 <= status < 300 and i in tokens:
                waiting[uuid.UUID(todo[i][1])] = (i, at)

        def complete(i: int):
            return ("POST", f"/v1/enrollments/{todo[i][0]}/complete", None,
                    {**host, "Idempotency-Key": f"done-{todo[i][0]}-{uuid.uuid4().hex[:6]}"})

        watcher = asyncio.create_task(watch())
        try:
            result.commands = await run_open_loop(world.url, complete, rate, total, on_done=done)
        finally:
            sending = False
        await watcher
        await asyncio.gather(*confirms)
    return result
