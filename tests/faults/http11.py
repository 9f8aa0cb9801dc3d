"""A lean HTTP/1.1 client for the fault suite's load generator: keep-alive connections on asyncio
streams, POST with a JSON body, nothing else.

Why not httpx: the load generator shares 2 cores with the stack it measures, and at 160
commands/s httpx cost ~8 ms of CPU per command there (py-spy: its pool checks every idle
connection's socket on every request, and httpcore retries a failed `import sniffio` on each
one), more than enrollment spends handling the command. This client costs a fraction of that.
The server side is unchanged: the services are real uvicorn processes.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class TransportError(Exception):
    """No HTTP answer: refused, reset, closed mid-answer, or none within the timeout."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]  # lower-case names
    content: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Http11:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[tuple[str, int], list[Conn]] = {}

    async def post(self, url: str, json: Any, headers: dict[str, str]) -> Response:
        u = urlsplit(url)
        host, port = u.hostname or "127.0.0.1", u.port or 80
        body = b"" if json is None else jsonlib.dumps(json).encode()
        head = [f"POST {u.path or '/'} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
        if json is not None:
            head.append("Content-Type: application/json")
        head += [f"{k}: {v}" for k, v in headers.items()]
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        conn = self._take((host, port))
        try:
            async with asyncio.timeout(self.timeout):
                if conn is None:
                    conn = await asyncio.open_connection(host, port)
                reader, writer = conn
                writer.write(request)
                response = await self._read(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
            if conn is not None:
                conn[1].transport.abort()
            raise TransportError(type(exc).__name__) from exc
        if response.headers.get("connection", "").lower() == "close":
            writer.transport.abort()
        else:
            self._idle.setdefault((host, port), []).append(conn)
        return response

    def _take(self, where: tuple[str, int]) -> Conn | None:
        """An idle connection the server has not closed (uvicorn closes idle ones after 5 s, and a
        killed service's are dead): those are dropped here, before a request is written to them."""
        idle = self._idle.get(where, [])
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.transport.abort()
        return None

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Response:
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            content = b""
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                content += (await reader.readexactly(size + 2))[:-2]
            await reader.readuntil(b"\r\n")
        else:
            content = await reader.readexactly(int(headers.get("content-length", 0)))
        return Response(status, headers, content)

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for _, writer in conns:
                writer.transport.abort()
        self._idle.clear()
