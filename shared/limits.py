"""Request body limits: an oversized body is refused with 413 problem+json before it is read whole.

Every request may carry at most `Settings.max_body_bytes` (1 MiB: the largest JSON command is a
few kilobytes); a route that takes spreadsheet uploads marks itself with `openapi_extra=UPLOAD`
and may carry `Settings.max_upload_bytes` instead. A declared Content-Length over the limit is
refused before the route runs; a chunked body (no Content-Length) is counted as it streams and
refused as soon as it passes the limit, so neither kind is ever buffered beyond it.

Starlette 1.x and FastAPI ship a `max_body_size` limiter, but it answers `text/plain` whenever
the request declared a Content-Length: our clients branch on the problem `code`, so we keep this
small one, which answers like every other error of the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import Problem, problem_response

UPLOAD_MARK = "x-upload"
UPLOAD = {UPLOAD_MARK: True}
"""`openapi_extra` of a route that takes file uploads: the larger limit applies (and OpenAPI says so)."""


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB"


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit. An HTTPException, so FastAPI's
    body parsing re-raises it untouched and the app's handler turns it into problem+json."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body may be at most {_mib(limit)} ({limit} bytes)")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, openapi: Callable[[], dict[str, Any]], max_body_bytes: int,
                 max_upload_bytes: int) -> None:
        self.app = app
        self.openapi = openapi
        self.max_body = max_body_bytes
        self.max_upload = max(max_upload_bytes, max_body_bytes)
        self._uploads: list[tuple[str, re.Pattern[str]]] | None = None

    def _upload_routes(self) -> list[tuple[str, re.Pattern[str]]]:
        """(method, path pattern) of the operations marked UPLOAD, from the app's own OpenAPI
        document: the routes as published, whatever way the routers were included."""
        if self._uploads is None:
            self._uploads = [
                (method.upper(), re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$"))
                for path, item in self.openapi().get("paths", {}).items()
                for method, op in item.items() if isinstance(op, dict) and op.get(UPLOAD_MARK)]
        return self._uploads

    def _limit_for(self, scope: Scope) -> int:
        """The route's limit; looked up only once a body passes the default limit."""
        method, path = scope.get("method", ""), scope.get("path", "")
        if any(m == method and pattern.match(path) for m, pattern in self._upload_routes()):
            return self.max_upload
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        limit = self.max_body
        if declared is not None and declared > limit:
            limit = self._limit_for(scope)
            if declared > limit:
                await _refuse(scope, receive, send, limit)
                return
        received = 0
        looked_up = limit != self.max_body or self.max_upload == self.max_body

        async def limited_receive() -> Message:
            nonlocal received, limit, looked_up
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not looked_up:
                    limit, looked_up = self._limit_for(scope), True
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    p = Problem(413, "payload_too_large", "请求体过大 Payload too large",
                f"the request body may be at most {_mib(limit)} ({limit} bytes)", limit=limit)
    path = scope.get("path")
    # The body is left unread: the server discards it (or closes the connection), not us.
    await problem_response(p, path)(scope, receive, send)
