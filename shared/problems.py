"""RFC 9457 problem details: every error leaves the API as application/problem+json with a
stable machine-readable `code`, so clients branch on `code`, never on English text."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """An error the client can act on. Raise it anywhere below a route."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{status} {code}: {detail or title}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": f"https://teacher-training.example/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            doc["detail"] = self.detail
        if instance:
            doc["instance"] = instance
        doc.update(self.extra)
        return doc


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance), status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


_STATUS_CODES = {
    400: ("bad_request", "请求无效 Bad request"),
    401: ("unauthorized", "未认证 Unauthorized"),
    403: ("forbidden", "无权访问 Forbidden"),
    404: ("not_found", "未找到 Not found"),
    405: ("method_not_allowed", "方法不允许 Method not allowed"),
    409: ("conflict", "冲突 Conflict"),
    412: ("precondition_failed", "前置条件失败 Precondition failed"),
    413: ("payload_too_large", "请求体过大 Payload too large"),
    415: ("unsupported_media_type", "不支持的媒体类型 Unsupported media type"),
    422: ("validation_error", "数据校验失败 Validation failed"),
    429: ("rate_limited", "请求过多 Too many requests"),
    503: ("unavailable", "服务暂不可用 Service unavailable"),
}


def _jsonable_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Pydantic puts exception objects and raw bytes into `ctx`/`input`; keep what is
    # printable and drop the input itself, which may carry personal data (ID numbers).
    out = []
    for err in errors:
        out.append({"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        p = Problem(422, "validation_error", "数据校验失败 Validation failed", errors=_jsonable_errors(exc.errors()))
        return problem_response(p, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title = _STATUS_CODES.get(exc.status_code, ("error", "错误 Error"))
        detail = exc.detail if isinstance(exc.detail, str) else None
        p = Problem(exc.status_code, code, title, detail, headers=dict(exc.headers or {}))
        return problem_response(p, request.url.path)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        # Infrastructure outages are the client's cue to retry, not a bug report.
        if _is_unavailable(exc):
            p = Problem(503, "unavailable", "服务暂不可用 Service unavailable",
                        "A backing service is unreachable; retry later.", headers={"Retry-After": "2"})
            return problem_response(p, request.url.path)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        p = Problem(500, "internal_error", "内部错误 Internal error")
        return problem_response(p, request.url.path)


def _is_unavailable(exc: Exception) -> bool:
    import asyncpg

    return isinstance(
        exc,
        ConnectionError | OSError | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.ConnectionDoesNotExistError | asyncpg.exceptions.InterfaceError
        | asyncpg.exceptions.AdminShutdownError | TimeoutError
        # A failover demoted the server under us: writes are refused until the pool reaches the
        # new primary; nothing was written, so the client should retry.
        | asyncpg.exceptions.ReadOnlySQLTransactionError
        # PostgreSQL going down mid-query (fast shutdown, crash recovery).
        | asyncpg.exceptions.OperatorInterventionError,
    )
