"""`make bench`: every figure of issue 8 with its baseline, in one run, on one machine.

Starts an embedded PostgreSQL and NATS (bench/stack.py), the bare FastAPI + asyncpg insert endpoint
(bench/baseline_app.py), the enrollment service and later the credits service as uvicorn
processes, and measures, in this order:

1. bulk roster import vs COPY (the teachers every later figure uses)        bench/imports.py
2. command path: nominate, check-in, attendance vs the bare insert endpoint  bench/command.py
3. bulk attendance import vs COPY                                           bench/imports.py
4. end-to-end freshness, completion → transcript, at 500/s and the highest
   rate sustained                                                            bench/freshness.py
5. projection apply, credits and reporting, vs raw JetStream consume + ack   bench/projections.py
6. credits ledger rebuild from 1,000,000 events vs COPY                      bench/credits.py
7. event store append vs the `eventsourcing` library's PostgreSQL recorder   bench/peer.py

then rewrites the generated block of docs/benchmarks.md (bench/report.py); text outside the
block's markers is kept. A phase that fails is reported as a row with an error, and the run exits 1.

    python -m bench.run                     # full sizes (`make bench`)
    python -m bench.run --smoke --out X.md  # tiny sizes: proves the harness works (tests)
    python -m bench.run --only command,peer # some phases
    python -m bench.run --only command --profile DIR   # `make bench-profile`: flame graphs and
                                                       # a CPU breakdown per command (bench/profile.py)
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, fields
from pathlib import Path

import uvloop

from bench import command, freshness, imports, peer, profile, projections
from bench.load import LoadResult
from bench.report import Figure, Report
from bench.seed import World, open_project, org_tree, start_project
from bench.stack import Stack, machine
from shared.settings import REPO_ROOT

# the closed-loop figures --profile samples (the floors' files: bench/command.py FLOORS)
PROFILED = ["baseline", "floor-kernel", "floor-optimistic", "nominate", "check-in", "attendance"]
PHASES = ("command", "imports", "freshness", "projections", "rebuild", "peer")


@dataclass
class Sizes:
    requests: int = 3000  # per command figure, closed loop
    concurrency: int = 32
    open_load: float = 0.7  # open-loop rate, as a share of our closed-loop throughput
    open_seconds: float = 10
    open_warm: float = 1.0  # s of each open-loop run's schedule sent before timing starts (bench/command.py)
    roster_imports: int = 3
    roster_rows: int = 4000  # per import (a county's roster)
    roster_warm: int = 200
    attendance_imports: int = 3
    attendance_rows: int = 4500  # per import (the endpoint takes at most 5,000)
    fresh_rate: float = 500  # completions per second offered
    fresh_seconds: float = 4
    sustain_share: float = 0.6  # first guess at the sustained rate, as a share of attendance throughput
    sustain_seconds: float = 10
    sustain_steps: int = 3  # runs looking for the highest rate sustained
    probes: float = 50  # completions followed to the transcript, per second
    poll_ms: float = 5
    credits_apply: int = 20_000
    reporting_apply: int = 21_000
    rebuild: int = 1_000_000
    peer_events: int = 20_000
    peer_streams: int = 1_000
    peer_concurrency: int = 8
    peer_batch: int = 10


SMOKE = Sizes(requests=20, concurrency=4, open_seconds=1, open_warm=0.2, roster_imports=2, roster_rows=30,
              roster_warm=10,
              attendance_imports=2, attendance_rows=30, fresh_rate=40, fresh_seconds=0.5, sustain_seconds=0.5,
              probes=1000, credits_apply=300, reporting_apply=300, rebuild=3000, peer_events=200, peer_streams=20,
              peer_concurrency=4, peer_batch=5)


class Run:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.failures: list[str] = []

    @contextlib.asynccontextmanager
    async def phase(self, name: str, rows: list[str]):
        """Run one phase; if it fails, its rows appear with an error instead of numbers."""
        print(f"bench: {name}...", flush=True)
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            traceback.print_exc()
            self.failures.append(f"{name}: {type(exc).__name__}: {exc}")
            have = {f.name for f in self.report.figures}
            self.report.figures += [Figure(r, 0.0, "", errors=1, note=f"failed: {type(exc).__name__}")
                                    for r in rows if r not in have]
        print(f"bench: {name} took {time.perf_counter() - started:.0f}s", flush=True)

    def add(self, *figures: Figure) -> None:
        self.report.figures += figures


def _floor_table(r: imports.ImportResult, floor: str, ours: str) -> list[str]:
    def ratio(rate: float) -> str:
        return f"{rate / max(r.copy_rate, 1e-9):.3f}"
    return ["| | rows/s | × plain COPY |", "|---|---|---|",
            f"| plain COPY (the baseline) | {r.copy_rate:,.0f} | 1.000 |",
            f"| floor: {floor} | {r.floor_rate:,.0f} | {ratio(r.floor_rate)} |",
            f"| {ours} | {r.rate:,.0f} | {ratio(r.rate)} |", ""]


def _kept_up(r: freshness.Freshness) -> str:
    if r.sustained:
        return ""
    if r.achieved < 0.95 * r.offered:
        return ", rate not reached"
    return f", not sustained: completions' p99 {r.commands.p99:,.0f} ms"


def _lat(r: LoadResult) -> str:
    return f"{r.p50:.1f} / {r.p99:.1f}"


def p99_figure(name: str, ours: LoadResult, baseline: LoadResult) -> Figure:
    """A command's p99 against the bare insert's at the same open-loop rate. A baseline whose own
    tail stalled (LoadResult.stalled) is no reference: the figure is then not counted as met."""
    note = f"open loop, {ours.offered_rate:.0f} req/s offered, {ours.throughput:.0f} achieved"
    if baseline.stalled:
        note += (f"; the bare endpoint stalled, p99 {baseline.p99:,.0f} ms = {baseline.p99 / baseline.p50:,.0f}× "
                 "its p50: no reference, not counted as met")
    return Figure(f"{name} p99 at the same load", ours.p99, "ms", baseline.p99, op="<=", ratio_target=4,
                  errors=ours.errors + baseline.errors, must=not baseline.stalled, note=note)


def _command_floor_table(results: command.CommandResults) -> list[str]:
    """The commands against their floor (bench/baseline_app.py): throughput and CPU of each, as a
    multiple of the bare insert's and of the floor in the kernel's shape."""
    base, (app_b, pg_b) = results.baseline[command.CLOSED], results.cpu_ms["baseline"]
    kernel_floor = next(iter(command.FLOORS))
    app_f, pg_f = results.cpu_ms[kernel_floor]
    # (label, its key in cpu_ms, its closed loop)
    rows = [("the bare insert (the baseline)", "baseline", base), *((n, n, r) for n, r in results.floors.items()),
            *((n, n, res[command.CLOSED]) for n, res in results.ours.items())]
    out = ["### Commands against their floor", "",
           "A recorded attendance's SQL and nothing else behind the same bare FastAPI "
           "(bench/baseline_app.py `/floor`; bench/driver.py's statements: the facts, an event with the event store's "
           "four indexes, the attendance row, the idempotency record, the enrollment's version): in the kernel's four "
           "round trips, and in the two an optimistic command would need. Same closed loop as the commands.", "",
           "| figure | req/s | × baseline | CPU ms (HTTP process + PostgreSQL) | × baseline "
           "| × floor (4 round trips) |",
           "|---|---|---|---|---|---|"]
    for name, key, res in rows:
        a, p = results.cpu_ms[key]
        out.append(f"| {name} | {res.throughput:,.0f} | {res.throughput / max(base.throughput, 1e-9):.3f} | "
                   f"{a + p:.2f} | {(a + p) / max(app_b + pg_b, 1e-9):.1f} | {(a + p) / max(app_f + pg_f, 1e-9):.2f} |")
    return [*out, ""]


async def enrollment_phases(run: Run, stack: Stack, sizes: Sizes, only: set[str]) -> None:
    rep = run.report
    base_db = await stack.database("bench_baseline")
    enr_db = await stack.database("bench_enrollment")
    copy_db = await stack.database("bench_copy")
    base_url = await stack.serve("bench.baseline_app:app", {"DATABASE_URL": base_db})
    enr_url = await stack.serve("services.enrollment.main:app", stack.service_env(enr_db), profile=True)
    world = World(enr_url, enr_db, stack.keys)
    await org_tree(world)
    roster_name = f"roster import ({sizes.roster_imports} × {sizes.roster_rows:,} rows)"
    async with run.phase("roster import", [roster_name]):
        async with stack.sampling(enr_url, "roster-import"):
            r = await imports.roster(world, copy_db, sizes.roster_imports, sizes.roster_rows, sizes.roster_warm,
                                     await stack.database("bench_import_floor"))
        run.add(Figure(roster_name, r.rate, "rows/s", r.copy_rate, ratio_target=0.3, errors=r.errors))
        rep.details += [
            "### Roster import against its floor", "",
            f"The same {sizes.roster_imports} × {sizes.roster_rows:,} rows COPYed, with nothing else, into the three "
            "tables an import writes (per teacher a TeacherRegistered event, an identity row, a teachers row; the "
            "enrollment schema's indexes and constraints; bench/imports.py `_roster_floor`): the best an import "
            "could do on this schema.", "",
            *_floor_table(r, "COPY into events, teacher_identities, teachers",
                          "the import (HTTP, checks, encryption, events, read model)")]
    await open_project(world, places=1_000_000)

    cmd_rows = [n for c in ("nominate", "check-in", "attendance")
                for n in (c, f"{c} p99 at the same load", f"{c} CPU per command (service + PostgreSQL)")]
    results = None
    if "command" in only:
        async with run.phase("command path", cmd_rows):
            results = await command.measure(world, base_url, sizes.requests, sizes.concurrency, sizes.open_load,
                                            sizes.open_seconds, stack.cpu_seconds, stack.sampling, stack.settle,
                                            sizes.open_warm)
            base = results.baseline[command.CLOSED]
            lat = ["| command | ours req/s (closed) | ours p50 / p99 ms | baseline req/s (closed) | "
                   "baseline p50 / p99 ms | open-loop rate | ours p50 / p99 ms | baseline p50 / p99 ms |",
                   "|---|---|---|---|---|---|---|---|"]
            for name, res in results.ours.items():
                closed, opened, base_open = res[command.CLOSED], res[command.OPEN], results.baseline[f"open {name}"]
                run.add(Figure(name, closed.throughput, "req/s", base.throughput, ratio_target=0.4,
                               errors=closed.errors),
                        p99_figure(name, opened, base_open))
                lat.append(f"| {name} | {closed.throughput:.0f} | {_lat(closed)} | {base.throughput:.0f} | "
                           f"{_lat(base)} | {opened.offered_rate:.0f}/s (ours achieved {opened.throughput:.0f}) | "
                           f"{_lat(opened)} | {_lat(base_open)} |")
            rep.details += ["### Command path latency", "",
                            f"Closed loop: {sizes.requests:,} requests per figure after a warm-up, "
                            f"{sizes.concurrency} clients, HTTP/1.1 keep-alive (aiohttp). Open loop: a fixed "
                            f"arrival rate of {sizes.open_load:g} × our closed-loop throughput for "
                            f"{sizes.open_seconds:g} s on each side, latency from each request's scheduled start; "
                            f"each side's run starts on a settled server (VACUUM (ANALYZE) of every database, a "
                            f"second's pause) and with {sizes.open_warm:g} s of the same schedule not timed "
                            "(bench/command.py).",
                            "", *lat, ""]
            if stack.profile is not None:
                print(f"bench: profile in {profile.write_breakdown(stack.profile, PROFILED, sizes.requests)}")
            app_b, pg_b = results.cpu_ms["baseline"]
            for name in results.ours:
                app, pg = results.cpu_ms[name]
                run.add(Figure(f"{name} CPU per command (service + PostgreSQL)", app + pg, "ms", app_b + pg_b,
                               op="<=", ratio_target=3))
            rep.details += [
                "CPU per request over each closed-loop run (user + system; the HTTP process and PostgreSQL's "
                "postmaster with its backends): what the two cores must share with the load generator.", "",
                "| figure | HTTP process ms | PostgreSQL ms | total ms | × baseline |", "|---|---|---|---|---|",
                *(f"| {name} | {a:.2f} | {p:.2f} | {a + p:.2f} | {(a + p) / max(app_b + pg_b, 1e-9):.1f} |"
                  for name, (a, p) in results.cpu_ms.items()), ""]
            rep.details += _command_floor_table(results)

    att_name = f"attendance import ({sizes.attendance_imports} × {sizes.attendance_rows:,} rows)"
    if "imports" in only:
        async with run.phase("attendance import", [att_name]):
            if not world.checked_in:
                await command.seed_checked_in(world, max(sizes.concurrency, sizes.attendance_rows // 3),
                                              sizes.concurrency)
            async with stack.sampling(enr_url, "attendance-import"):
                a = await imports.attendance(world, copy_db, sizes.attendance_imports, sizes.attendance_rows,
                                             await stack.database("bench_attendance_floor"))
            run.add(Figure(att_name, a.rate, "rows/s", a.copy_rate, ratio_target=0.3, errors=a.errors))
            rep.details += [
                "### Attendance import against its floor", "",
                f"The same {sizes.attendance_imports} × {sizes.attendance_rows:,} rows written, with nothing else, "
                "into what an import writes (per row an AttendanceRecorded event and an attendance row, both by "
                "COPY, and each enrollment's version moved; the enrollment schema's indexes and constraints; "
                "bench/imports.py `_attendance_floor`): the best an import could do on this schema.", "",
                *_floor_table(a, "COPY into events and attendance, enrollments' versions",
                              "the import (HTTP, parsing, rules, events, read model)")]

    if "freshness" in only:
        f500 = f"freshness p99 at {sizes.fresh_rate:g}/s offered"
        fsus = "freshness p99 at the highest rate sustained"
        async with run.phase("freshness", [f500, fsus]):
            att = results.ours["attendance"][command.CLOSED].throughput if results else 50.0
            rate = max(1.0, min(sizes.fresh_rate, sizes.sustain_share * att))
            steps = sum(1.3 ** k for k in range(sizes.sustain_steps))
            need = math.ceil(rate * sizes.sustain_seconds * steps) + math.ceil(sizes.fresh_rate * sizes.fresh_seconds)
            if len(world.checked_in) < need:
                await command.seed_checked_in(world, need - len(world.checked_in), sizes.concurrency)
            await start_project(world)
            credits_url, credits_db = await freshness.start_credits(stack, world)
            pool = list(world.checked_in)
            runs: list[freshness.Freshness] = []
            best: freshness.Freshness | None = None
            for _ in range(sizes.sustain_steps):  # up by 1.3× while sustained; down once before that
                runs.append(await freshness.measure(world, credits_url, credits_db, pool, rate,
                                                    sizes.sustain_seconds, sizes.probes, sizes.poll_ms))
                await freshness.caught_up(enr_db, credits_db)
                if runs[-1].sustained:
                    best, rate = runs[-1], min(sizes.fresh_rate, rate * 1.3)
                    if best.offered >= sizes.fresh_rate:
                        break
                elif best is not None:
                    break
                else:
                    rate = max(1.0, runs[-1].achieved * 0.75)
            best = best or runs[-1]
            high = await freshness.measure(world, credits_url, credits_db, pool, sizes.fresh_rate,
                                           sizes.fresh_seconds, sizes.probes, sizes.poll_ms)
            run.add(Figure(f500, high.p99, "ms", abs_target=200, op="<=", errors=high.errors, must=high.sustained,
                           note=f"achieved {high.achieved:.0f}/s{_kept_up(high)}"),
                    Figure(fsus, best.p99, "ms", abs_target=200, op="<=", errors=best.errors,
                           note=f"{best.offered:.0f}/s offered, {best.achieved:.0f}/s achieved{_kept_up(best)}"))
            rows = ["| offered /s | achieved /s | sustained | completions | completion p50 / p99 ms | "
                    "probes | freshness p50 ms | freshness p99 ms | probe timeouts |", "|---" * 9 + "|"]
            for r in [*runs, high]:
                rows.append(f"| {r.offered:.0f} | {r.achieved:.0f} | {'yes' if r.sustained else 'no'} | "
                            f"{r.commands.requests:,} | {_lat(r.commands)} | {len(r.fresh_ms)} | {r.p50:.0f} | "
                            f"{r.p99:.0f} | {r.timeouts} |")
            rep.details += ["### Freshness runs", "",
                            "Completions sent open loop; a sample of them followed from the completion's 2xx "
                            f"(credits' ledger watched every {sizes.poll_ms:g} ms) to the end of the first transcript "
                            "request that lists the enrollment (bench/freshness.py). Runs in order; each starts once "
                            "credits has caught up.", "",
                            *rows, ""]
    stack.stop_services()


async def measure(sizes: Sizes, only: set[str], command_line: str, profile_dir: Path | None) -> Report:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as work:
        stack = Stack(Path(work), profile=profile_dir).start()
        try:
            report = Report(command_line, await machine(stack))
            run = Run(report)
            if only & {"command", "imports", "freshness"}:
                async with run.phase("enrollment stack", []):
                    await enrollment_phases(run, stack, sizes, only)
            if "projections" in only:
                cname = f"credits projection apply ({sizes.credits_apply:,} completions)"
                rname = f"reporting projection apply ({sizes.reporting_apply:,} events)"
                async with run.phase("credits apply", [cname]):
                    raw, ours = await projections.apply_credits(stack.pg, stack.nats_url, sizes.credits_apply)
                    run.add(Figure(cname, ours, "events/s", raw, ratio_target=0.6))
                async with run.phase("reporting apply", [rname]):
                    raw, ours = await projections.apply_reporting(stack.pg, stack.nats_url, sizes.reporting_apply)
                    run.add(Figure(rname, ours, "events/s", raw, ratio_target=0.6))
            if "rebuild" in only:
                name = f"credits ledger rebuild ({sizes.rebuild:,} events)"
                async with run.phase("rebuild", [name]):
                    copy, rebuilt = await projections.rebuild_credits(stack.pg, sizes.rebuild)
                    run.add(Figure(name, rebuilt, "events/s", copy, ratio_target=0.5))
            if "peer" in only:
                for batch in (1, sizes.peer_batch):
                    name = f"event store append, {batch} event{'s' if batch > 1 else ''}/transaction"
                    tx_name = f"{name}, inside a command's transaction (BEGIN, append, COMMIT; no target)"
                    async with run.phase(f"peer, batch {batch}", [name, tx_name]):
                        plan = peer.Plan(sizes.peer_events, sizes.peer_streams, sizes.peer_concurrency, batch)
                        ours, in_command, theirs = await peer.measure(stack.pg, plan)
                        run.add(Figure(name, ours, "events/s", theirs, ratio_target=3),
                                Figure(tx_name, in_command, "events/s", theirs))
            report.details += _notes(sizes)
            report.seconds = time.perf_counter() - started
            report.failures = run.failures
            return report
        finally:
            stack.stop()


def _notes(s: Sizes) -> list[str]:
    return [
        "### What each figure times", "",
        "- **nominate / check-in / attendance**: requests per second over HTTP, closed loop, against "
        "`bench/baseline_app.py` (bare FastAPI + asyncpg, one INSERT per request) under the same generator. "
        "Ours is the whole command path: JWT, Idempotency-Key record, aggregate load, rules, query tables, "
        "event append (the relay publishes it after COMMIT), one transaction. *p99 at the same load*: both "
        "driven open loop at the same arrival rate (table above).",
        f"- **projection apply**: {s.credits_apply:,} / {s.reporting_apply:,} events published to a JetStream "
        "stream, consumed by the kernel's ProjectionConsumer with the service's projection vs a bare nats-py pull "
        "consumer acking the same messages (bench/projections.py).",
        "- **freshness**: completion's 2xx → the teacher's transcript in credits lists the award, p99 over the "
        "probed sample; the rate achieved is in the row (bench/freshness.py).",
        f"- **rebuild**: the credits ledger from {s.rebuild:,} HoursAwarded in the event store (kernel rebuild) vs "
        "COPY of the same entry rows into a bare table (bench/credits.py).",
        "- **imports**: rows per second of the CSV endpoints, request to answer, vs COPY of the same rows into a "
        "plain table on the same server (bench/imports.py).",
        f"- **event store append**: {s.peer_events:,} events over {s.peer_streams:,} streams, "
        f"{s.peer_concurrency} concurrent writers, vs `eventsourcing`'s PostgresApplicationRecorder on its own "
        "database of the same server (bench/peer.py).",
    ]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to prove the harness works")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--only", default=",".join(PHASES), help=f"comma-separated phases of {', '.join(PHASES)}")
    parser.add_argument("--profile", type=Path, help="a directory: py-spy flame graphs, statement tables and "
                        "breakdown.md of each closed-loop command figure (bench/profile.py)")
    defaults = Sizes()
    for f in fields(Sizes):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(getattr(defaults, f.name)), default=None)
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else Sizes()
    sizes = Sizes(**{f.name: getattr(args, f.name) if getattr(args, f.name) is not None else getattr(sizes, f.name)
                     for f in fields(Sizes)})
    only = {p.strip() for p in args.only.split(",") if p.strip()}
    if unknown := only - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    command_line = "make bench" if not argv and os.environ.get("MAKELEVEL") else shlex.join(
        ["python", "-m", "bench.run", *argv])
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    # uvloop, as the services run under uvicorn: our side of the event-store figure and every load
    # generator (ours and the baselines' alike) run in this process.
    report = uvloop.run(measure(sizes, only, command_line, args.profile))
    report.write(args.out)
    print(report.block())
    failed = [f"{f.name}: {f.errors} errors" for f in report.figures if f.errors]
    if failed or report.failures:
        print("bench: failures:\n  " + "\n  ".join([*report.failures, *failed]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
