"""The fault suite's stack: one embedded PostgreSQL and a 3-node NATS cluster (JetStream on file
storage, streams replicated three times, routes through a proxy that can partition a node:
tests/faults/cluster.py) in a temporary folder, and the four services as real uvicorn processes,
each on a port of its own that survives a restart. Every piece can be killed or stopped and
started again on the same data: `kill(service)` is a real SIGKILL, `stop_postgres()` a real
server shutdown, `nats.kill(i)` a SIGKILL of one node.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from shared.db import ensure_database, with_database
from shared.devkeys import ensure_dev_keys, ensure_pii_key, mint_token
from shared.devstack import free_ports, start_postgres, stop_postgres
from shared.settings import REPO_ROOT
from tests.faults.cluster import NatsCluster

SERVICES = ("enrollment", "credits", "funding", "reporting")
BUS_NAMESPACE = "faults"
LOGS = REPO_ROOT / "test-output" / "faults"  # the services' stdout/stderr, one file each


def catchups_logged() -> dict[str, int]:
    """Per service, how many times its log says a projection fell behind JetStream retention (and
    so read its source's whole feed). The fault runs keep days of retention: each is a false alarm."""
    return {f.stem: f.read_bytes().count(b"fell behind JetStream retention") for f in sorted(LOGS.glob("*.log"))}


@dataclass
class FaultStack:
    work: Path
    pg: str = ""
    nats: NatsCluster | None = None
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    world: Any = None  # bench.seed.World once seeded (tests/faults/conftest.py)

    @property
    def keys(self) -> Path:
        return self.work / "keys"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def db(self, service: str) -> str:
        return with_database(self.pg, f"tt_{service}")

    async def start(self) -> FaultStack:
        ensure_dev_keys(self.keys)
        self.pg = start_postgres(self.work)
        self.nats = NatsCluster(self.work, LOGS).start()  # free ports, kept for every restart
        for name, port in zip(SERVICES, free_ports(len(SERVICES)), strict=True):
            await ensure_database(self.db(name))
            self.ports[name] = port
        token = mint_token(self.keys, "service", sub="svc-internal", ttl_s=24 * 3600)
        peers = {f"{name.upper()}{kind}": self.url(name) for name in SERVICES for kind in ("_URL", "_PUBLIC_URL")}
        for name in SERVICES:
            self.env[name] = {
                **os.environ, **peers, "SERVICE_NAME": name, "DATABASE_URL": self.db(name),
                "NATS_URL": self.nats.url, "NATS_STREAM_REPLICAS": str(self.nats.size),
                "BUS_NAMESPACE": BUS_NAMESPACE,
                "JWT_PUBLIC_KEYS": str(self.keys / "jwks.json"), "SERVICE_TOKEN": token,
                "PII_KEY": ensure_pii_key(self.keys), "CREDITS_KEYS_DIR": str(self.keys), "LOG_LEVEL": "WARNING"}
        for name in SERVICES:
            self._spawn(name)
        await asyncio.gather(*(self.ready(name) for name in SERVICES))
        return self

    def _spawn(self, name: str) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)  # outlives the temporary folder: read it after a failure
        log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", f"services.{name}.main:app", "--host", "127.0.0.1",
             "--port", str(self.ports[name]), "--no-access-log", "--log-level", "warning"],
            env=self.env[name], cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    async def ready(self, name: str, timeout: float = 90) -> float:
        """Wait for /readyz 200; returns the seconds it took."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() - started < timeout:
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {LOGS / (name + '.log')}")
                try:
                    if (await client.get(f"{self.url(name)}/readyz")).status_code == 200:
                        return time.monotonic() - started
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"{name} not ready within {timeout}s")

    def kill(self, name: str) -> None:
        """kill -9: no lifespan shutdown, no drain, no flush."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    async def restart(self, name: str) -> float:
        self._spawn(name)
        return await self.ready(name)

    def stop_nats(self) -> None:
        """The whole cluster down."""
        assert self.nats is not None
        self.nats.stop_all()

    def start_nats(self) -> None:
        assert self.nats is not None
        self.nats.start_all()  # same ports, same stores

    def stop_postgres(self) -> None:
        stop_postgres(self.work)

    def start_postgres(self) -> None:
        url = start_postgres(self.work)
        assert url == self.pg, f"PostgreSQL came back at {url}, not {self.pg}"

    async def fetchval(self, service: str, sql: str, *args):
        conn = await asyncpg.connect(self.db(service))
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def fetch(self, service: str, sql: str, *args):
        conn = await asyncpg.connect(self.db(service))
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.nats is not None:
            self.nats.stop()
        stop_postgres(self.work)
