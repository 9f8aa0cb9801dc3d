"""Headless Chromium (Debian's `chromium` package) driven over the DevTools protocol with a
small websocket client: set a request header, load a page, collect console errors, exceptions
and every request it made, evaluate a script, take a screenshot. No Playwright, no downloads."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,2000", "--enable-logging=stderr", "--v=0", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1")


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Debian's chromium is not installed (/usr/bin/chromium): run `apt-get install -y chromium` "
                    "— the dashboard test needs a real browser and does not skip without one")
    return path


class Browser:
    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.profile = tempfile.TemporaryDirectory(prefix="tt-chromium-")
        self.stderr: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._next = 0
        self._waiting: dict[int, asyncio.Future] = {}

    async def __aenter__(self) -> Browser:
        self.proc = await asyncio.create_subprocess_exec(
            chromium_path(), *FLAGS, f"--user-data-dir={self.profile.name}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        port = await asyncio.wait_for(self._devtools_port(), 30)
        self._drain = asyncio.create_task(self._read_stderr())
        async with httpx.AsyncClient() as client:
            targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
        page = next(t for t in targets if t["type"] == "page")
        self.ws = await connect(page["webSocketDebuggerUrl"], max_size=64 * 2**20)
        self._reader = asyncio.create_task(self._receive())
        for domain in ("Page", "Runtime", "Log", "Network"):
            await self.send(f"{domain}.enable")
        return self

    async def _devtools_port(self) -> int:
        while True:
            line = (await self.proc.stderr.readline()).decode(errors="replace")
            if not line:
                raise RuntimeError("chromium exited: " + "".join(self.stderr[-20:]))
            self.stderr.append(line)
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                return int(found.group(1))

    async def _read_stderr(self) -> None:
        while line := await self.proc.stderr.readline():
            self.stderr.append(line.decode(errors="replace"))

    async def _receive(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self._waiting:
                self._waiting.pop(msg["id"]).set_result(msg)
            elif "method" in msg:
                self.events.append(msg)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        future = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        await self.ws.send(json.dumps({"id": self._next, "method": method, "params": params}))
        msg = await asyncio.wait_for(future, 30)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg["result"]

    async def load(self, url: str, headers: dict[str, str]) -> None:
        await self.send("Network.setExtraHTTPHeaders", headers=headers)
        await self.send("Page.navigate", url=url)
        for _ in range(600):
            if any(e["method"] == "Page.loadEventFired" for e in self.events):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{url} did not finish loading")

    def console_errors(self) -> list[str]:
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(json.dumps(p.get("args", []))[:500])
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", ""))
        # Chromium's own stderr console lines, as `--enable-logging=stderr` would show them
        out += [line for line in self.stderr if "CONSOLE" in line and "error" in line.lower()]
        return out

    def requested(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def screenshot(self) -> bytes:
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        return base64.b64decode(shot["data"])

    async def __aexit__(self, *exc: Any) -> None:
        for task in (getattr(self, "_reader", None),):
            if task:
                task.cancel()
        if getattr(self, "ws", None):
            await self.ws.close()
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 10)
        self.profile.cleanup()
