"""Where a credits completion's time goes: the apply phase of `bench.credits` (20,000
EnrollmentCompleted through the intake projection: the award decided, HoursAwarded appended, the
ledger row, the checkpoints, the acks), measured from outside the code it measures.

Per completion, over the projection's run only (the raw consume + ack before it is the ratio's
baseline, as in `make bench`): wall time; CPU of this process (the consumer, the projection,
nats-py), of PostgreSQL (postmaster and backends) and of nats-server; and PostgreSQL's own time by
statement (pg_stat_statements, loaded by restarting the embedded server). Python busy for most of
the wall while PostgreSQL's CPU adds to it means the two take turns; docs/benchmarks.md has what
that told (2026-12-05: Python is the bound, overlap does not pay).

    python -m bench.credits_split                       # 20,000 completions, 3 rounds
    python -m bench.credits_split --completions 5000 --rounds 5

A/B between two checkouts: the same command from each, alternating (run it from the checkout's
directory with its own code on the path), e.g.
    for i in 1 2 3; do for d in ../a ../b; do (cd $d && python -m bench.credits_split --rounds 1); done; done
Always on a fresh embedded PostgreSQL and NATS of its own (the statistics need the server's restart).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil
import uvloop

from bench import credits
from bench.stack import configure, postmaster_under, tree_cpu
from shared.devstack import start_nats, start_postgres, stop_postgres

_STATEMENTS = r"""
SELECT calls, total_exec_time + total_plan_time AS ms, left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS statement
FROM pg_stat_statements
WHERE calls > 0 AND query !~* '^\s*(CREATE|DROP|SELECT pg_stat_statements_reset)'
ORDER BY total_exec_time + total_plan_time DESC LIMIT $1
"""


@dataclass
class Split:
    """CPU of this process, PostgreSQL and nats-server between start() and stop(), and PostgreSQL's
    statements over the same span."""

    server: str
    postmaster: psutil.Process
    nats: psutil.Process
    top: int = 8
    seconds: float = 0.0
    python: float = 0.0
    postgres: float = 0.0
    nats_cpu: float = 0.0
    statements: list[tuple[int, float, str]] = field(default_factory=list)
    _at: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    async def start(self) -> None:
        await configure(self.server, "SELECT pg_stat_statements_reset()")
        self._at = (time.perf_counter(), time.process_time(), tree_cpu(self.postmaster), _cpu(self.nats))

    async def stop(self) -> None:
        wall, python, postgres, nats = self._at
        self.seconds = time.perf_counter() - wall
        self.python = time.process_time() - python
        self.postgres = tree_cpu(self.postmaster) - postgres
        self.nats_cpu = _cpu(self.nats) - nats
        conn = await asyncpg.connect(self.server)
        try:
            self.statements = [(r["calls"], r["ms"], r["statement"]) for r in await conn.fetch(_STATEMENTS, self.top)]
        finally:
            await conn.close()


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


@dataclass
class Round:
    completions: int
    raw: float  # raw consume + ack, messages/s
    ours: float  # the projection, completions/s
    split: Split


def report(rounds: list[Round]) -> str:
    out = ["| round | wall µs | Python µs | PostgreSQL µs | nats-server µs | raw msgs/s | ours /s | ratio |",
           "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(rounds, start=1):
        s, n = r.split, r.completions
        out.append(f"| {i} | {s.seconds / n * 1e6:.0f} | {s.python / n * 1e6:.0f} | {s.postgres / n * 1e6:.0f} "
                   f"| {s.nats_cpu / n * 1e6:.0f} | {r.raw:,.0f} | {r.ours:,.0f} | {r.ours / r.raw:.3f} |")
    out += ["", "PostgreSQL's own time by statement (execution + planning), last round:", "",
            "| calls | µs per completion | statement |", "|---|---|---|"]
    last = rounds[-1]
    out += [f"| {calls:,} | {ms * 1000 / last.completions:.1f} | `{text}` |"
            for calls, ms, text in last.split.statements]
    return "\n".join(out) + "\n"


async def measure(work: Path, completions: int, rounds: int) -> list[Round]:
    server = start_postgres(work)
    # pg_stat_statements is loaded at start-up only: set it, then start the server again.
    await configure(server, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'",
                   "ALTER SYSTEM SET wal_init_zero = off")
    stop_postgres(work)
    server = start_postgres(work)
    await configure(server, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    nats = start_nats(work)
    try:
        postmaster = postmaster_under(work)
        if postmaster is None or nats.process is None:
            raise RuntimeError("the embedded PostgreSQL or NATS has no process to measure")
        out = []
        for _ in range(rounds):
            split = Split(server, postmaster, psutil.Process(nats.process.pid))
            raw, ours = await credits.bench_apply(server, nats.url, completions, split)
            out.append(Round(completions, raw, ours, split))
        return out
    finally:
        nats.stop()
        stop_postgres(work)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.credits_split", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--completions", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tt-credits-split-") as d:
        rounds = uvloop.run(measure(Path(d), args.completions, args.rounds))
    print(report(rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
