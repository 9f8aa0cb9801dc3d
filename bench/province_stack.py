"""The four services for bench/province.py, as `make run` starts them (shared/devstack.py) but on
free ports, logging to files, with databases and a bus namespace of their own when the servers
are shared (DATABASE_URL / NATS_URL)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import nats
from nats.js.errors import NotFoundError

from bench.province_gauges import OWNERS
from shared.bus import BusNames
from shared.db import drop_database, ensure_database, with_database
from shared.devkeys import ensure_dev_keys, ensure_pii_key, mint_token
from shared.devstack import SERVICES, NatsServer, free_port, start_nats, start_postgres, stop_postgres
from shared.settings import REPO_ROOT


@dataclass
class Stack:
    work: Path
    keys: Path
    server: str
    nats_url: str
    names: BusNames
    dsns: dict[str, str]
    urls: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    nats: NatsServer | None = None
    own_pg: bool = True

    @property
    def streams(self) -> dict[str, str]:
        return {s: self.names.stream(s) for s in OWNERS}

    def token(self, role: str, org: str | None = None, sub: str | None = None) -> str:
        return mint_token(self.keys, role, org=org, sub=sub, ttl_s=24 * 3600)

    def log_tail(self, service: str, lines: int = 30) -> str:
        path = self.work / "logs" / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


async def start(work: Path) -> Stack:
    keys = work / "keys"
    jwks = ensure_dev_keys(keys)
    own_pg, own_nats = not os.environ.get("DATABASE_URL"), not os.environ.get("NATS_URL")
    server = os.environ.get("DATABASE_URL") or start_postgres(work)
    nats_server = None if not own_nats else start_nats(work)
    nats_url = os.environ.get("NATS_URL") or nats_server.url
    run = uuid.uuid4().hex[:6]
    # Our own servers get production's names; shared ones a namespace and databases of this run.
    names = BusNames("" if own_nats else f"prov{run}")
    dsns = {s: with_database(server, f"tt_{s}" if own_pg else f"prov_{run}_{s}") for s in SERVICES}
    stack = Stack(work, keys, server, nats_url, names, dsns, nats=nats_server, own_pg=own_pg)
    try:
        for dsn in dsns.values():
            await ensure_database(dsn)
        ports = {s: free_port() for s in SERVICES}
        stack.urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
        peers = {f"{s.upper()}{kind}": u for s, u in stack.urls.items() for kind in ("_URL", "_PUBLIC_URL")}
        service_token = mint_token(keys, "service", sub="svc-internal", ttl_s=365 * 24 * 3600)
        (work / "logs").mkdir(exist_ok=True)
        for s in SERVICES:
            env = {**os.environ, **peers, "SERVICE_NAME": s, "DATABASE_URL": dsns[s], "NATS_URL": nats_url,
                   "BUS_NAMESPACE": names.namespace, "JWT_PUBLIC_KEYS": str(jwks), "SERVICE_TOKEN": service_token,
                   "PII_KEY": ensure_pii_key(keys), "CREDITS_KEYS_DIR": str(keys), "LOG_LEVEL": "WARNING"}
            stack.procs[s] = _spawn(s, ports[s], env, work / "logs" / f"{s}.log")
        await _ready(stack)
        return stack
    except BaseException:
        await stop(stack, keep=False)
        raise


def _spawn(service: str, port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", f"services.{service}.main:app", "--host", "127.0.0.1", "--port",
             str(port), "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5"],
            env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)


async def _ready(stack: Stack, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = set(stack.urls)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while pending:
            for s in list(pending):
                if stack.procs[s].poll() is not None:
                    raise RuntimeError(f"{s} exited with {stack.procs[s].returncode}:\n{stack.log_tail(s)}")
                try:
                    async with http.get(f"{stack.urls[s]}/readyz") as r:
                        if r.status == 200:
                            pending.discard(s)
                except (aiohttp.ClientError, TimeoutError):
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f}s: {sorted(pending)}")
            await asyncio.sleep(0.2)
    # Streams are provisioned in the background once NATS is reachable: wait for them too.
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        for name in stack.streams.values():
            while True:
                try:
                    await js.stream_info(name)
                    break
                except NotFoundError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"stream {name} never appeared") from None
                    await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def stop(stack: Stack, keep: bool) -> None:
    for p in stack.procs.values():
        if p.poll() is None:
            p.terminate()
    for p in stack.procs.values():
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if not keep and not stack.own_pg:
        for dsn in stack.dsns.values():
            await drop_database(dsn)
    if not keep and stack.nats is None:
        nc = await nats.connect(stack.nats_url)
        try:
            for name in stack.streams.values():
                try:
                    await nc.jetstream().delete_stream(name)
                except NotFoundError:
                    pass
        finally:
            await nc.close()
    if stack.nats is not None:
        stack.nats.stop()
    if stack.own_pg:
        stop_postgres(stack.work)
