"""A person's first hour, as a browser test: `make run` (shared/devstack.py) started as a process on
free ports with its own data folder, `make demo` (bench/demo.py) loaded into it, then Debian's
Chromium driven by Playwright (launched with executable_path; Playwright never downloads a browser).

A failing test leaves a screenshot of its page under test-output/browser/ (the path is printed).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-output" / "browser"
AXE = ROOT / ".vendor" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# A small province keeps the test fast (the demo's own default is 20,000 teachers).
DEMO_ARGS = ["--teachers", "600", "--cities", "2", "--counties", "4", "--school-size", "50",
             "--claims-per-year", "30", "--concurrency", "12"]


@dataclass
class Stack:
    data_dir: Path
    env: dict[str, str]
    banner: str
    dashboard_url: str
    urls: dict[str, str]
    db_url: str
    log: Path


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def run_demo(stack: Stack, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.demo", *DEMO_ARGS, *extra], cwd=ROOT, env=stack.env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """`make run` on free ports, as a newcomer starts it (no DATABASE_URL / NATS_URL: embedded servers)."""
    OUT.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="tt-first-hour-"))
    ports = dict(zip(("ENROLLMENT_PORT", "CREDITS_PORT", "FUNDING_PORT", "REPORTING_PORT"), map(str, _free_ports(4)),
                     strict=True))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL", "DEV_PROFILE")}
    env.update(ports, DATA_DIR=str(data_dir), LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    log = OUT / "stack.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "shared.devstack", "run"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`make run` did not come up (log: {log}):\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        banner = log.read_text(errors="replace")
        url = re.search(r"Dashboard\s+(http://\S+/dashboard)", banner).group(1)
        urls = {name: re.search(rf"^\s+{name}\s+(http://\S+)", banner, re.M).group(1)
                for name in ("enrollment", "credits", "funding", "reporting")}
        db = re.search(r"PostgreSQL\s+(\S+)", banner).group(1)
        yield Stack(data_dir, env, banner, url, urls, db, log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def demo(stack: Stack) -> subprocess.CompletedProcess[str]:
    """The demo province, loaded once for the session."""
    t0 = time.monotonic()
    done = run_demo(stack)
    took = time.monotonic() - t0
    (OUT / "demo.log").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"make demo failed after {took:.0f}s:\n{done.stderr[-4000:]}"
    print(f"\ndemo province loaded in {took:.1f}s")
    return done


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (scripts/ensure-chromium.sh)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture
def page(browser, request, demo):  # type: ignore[no-untyped-def]
    """A fresh browser context (no cookies) at desktop width; console errors collected in page.errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        shot = OUT / f"{request.node.name}.png"
        pg.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of the failing page: {shot}")
    context.close()
