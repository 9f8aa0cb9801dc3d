"""`make run` end to end: `python -m shared.devstack run` starts a real embedded PostgreSQL and NATS
and the four services, all answer, and one Ctrl-C (SIGINT) stops every process it started."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import psutil
import pytest

from shared.devstack import SERVICES, free_port
from shared.settings import REPO_ROOT


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _ours(data_dir: Path) -> list[psutil.Process]:
    """Live processes whose command line names our data dir (postmaster `-D`, nats-server `-sd`, devstack)."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.info["status"] != psutil.STATUS_ZOMBIE and str(data_dir) in " ".join(p.info["cmdline"] or []):
            found.append(p)
    return found


def _wait_for(check, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}; output:\n{log.read_text()}"
        time.sleep(0.2)


@pytest.fixture
def tmp_dir():
    """A directory outside pytest's own: another pytest session starting meanwhile (a second
    checkout, a helper's run) resets /tmp/pytest-of-<user> to mode 0700, which locks the embedded
    PostgreSQL's own user out of a data directory below it (as tests/conftest.py avoids too)."""
    with tempfile.TemporaryDirectory(prefix="tt-devstack-") as d:
        yield Path(d)


def test_make_run_starts_everything_and_ctrl_c_stops_it(tmp_dir: Path) -> None:
    data_dir, log = tmp_dir / "data", tmp_dir / "devstack.log"
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "NATS_URL", "DATA_DIR", "JWT_PUBLIC_KEYS"}}
    env.update({f"{name.upper()}_PORT": str(port) for name, port in ports.items()})
    started = time.monotonic()
    with log.open("wb") as out:  # a file, not a pipe: nobody reads a pipe while we poll, and it would fill up
        proc = subprocess.Popen([sys.executable, "-m", "shared.devstack", "run", "--data-dir", str(data_dir)],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        ready: set[str] = set()

        def all_ready() -> bool:
            assert proc.poll() is None, f"devstack exited with {proc.returncode}; output:\n{log.read_text()}"
            for name in set(urls) - ready:
                try:
                    if httpx.get(f"{urls[name]}/readyz", timeout=2).status_code == 200:
                        ready.add(name)
                except httpx.HTTPError:
                    pass
            return ready == set(urls)

        _wait_for(all_ready, 90 - (time.monotonic() - started), "every /readyz to return 200", log)
        for name, url in urls.items():
            assert httpx.get(f"{url}/healthz").json() == {"status": "ok", "service": name}
            assert httpx.get(f"{url}/metrics").status_code == 200
            assert httpx.get(f"{url}/openapi.json").json()["paths"]

        # The banner follows the readiness check; it names the servers devstack started.
        _wait_for(lambda: "Ctrl-C stops everything" in log.read_text(), 10, "the banner", log)
        banner = log.read_text()
        pg = urlsplit(re.search(r"PostgreSQL\s+(\S+)", banner).group(1))
        assert pg.hostname is None and pg.port is None, pg  # no TCP host: a Unix socket ...
        assert parse_qs(pg.query)["host"][0].startswith("/"), pg  # ... in a directory
        nats_port = urlsplit(re.search(r"NATS\s+(nats://\S+)", banner).group(1)).port
        assert nats_port != 4222 and _accepts(nats_port)
        postmaster = psutil.Process(int((data_dir / "pg" / "postmaster.pid").read_text().split()[0]))
        assert str(data_dir) in " ".join(postmaster.cmdline())
        assert [c for c in postmaster.net_connections("tcp") if c.status == psutil.CONN_LISTEN] == []
        for name in SERVICES:
            assert f"{urls[name]}/docs" in banner
        assert "make -s token ROLE=province_admin ORG=610000" in banner and str(data_dir) in banner

        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0, log.read_text()
        output = log.read_text()
        assert "devstack: stopped." in output
        # Graceful, not devstack's kill fallback: each service saw the signal and ran its lifespan shutdown.
        assert output.count("Application shutdown complete") == len(SERVICES) and "killing it" not in output, output
        assert [port for port in [*ports.values(), nats_port] if _accepts(port)] == []
        assert not postmaster.is_running() or postmaster.status() == psutil.STATUS_ZOMBIE
        assert [" ".join(p.cmdline()) for p in _ours(data_dir)] == []
    finally:
        # Only on failure: never leave servers behind for the next test run.
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for p in _ours(data_dir):
            p.kill()
