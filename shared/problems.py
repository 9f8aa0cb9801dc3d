"""RFC 9457 problem details: every error leaves the API as application/problem+json with a
stable machine-readable `code`, so clients branch on `code`, never on English text."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .personal import PersonalDataError, mask_in, mask_national_ids
from .refusal import Refused

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
        super().__init__(mask_national_ids(f"{status} {code}: {detail or title}"))
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
        # Messages may echo what the caller sent; a national ID number typed into the wrong
        # field must not come back (or reach a log) in full (shared/personal.py).
        if self.detail:
            doc["detail"] = mask_national_ids(self.detail)
        if instance:
            doc["instance"] = mask_national_ids(instance)
        doc.update(mask_in(self.extra))
        return doc


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance), status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


_STATUS_CODES = {  # the status of an HTTP error no handler above names → (code, title)
    400: ("bad_request", "请求无效 Bad request"), 401: ("unauthorized", "未认证 Unauthorized"),
    403: ("forbidden", "无权访问 Forbidden"), 404: ("not_found", "未找到 Not found"),
    405: ("method_not_allowed", "方法不允许 Method not allowed"), 409: ("conflict", "冲突 Conflict"),
    412: ("precondition_failed", "前置条件失败 Precondition failed"),
    413: ("payload_too_large", "请求体过大 Payload too large"),
    415: ("unsupported_media_type", "不支持的媒体类型 Unsupported media type"),
    422: ("validation_error", "数据校验失败 Validation failed"), 429: ("rate_limited", "请求过多 Too many requests"),
    503: ("unavailable", "服务暂不可用 Service unavailable"),
}


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; branch on `code`, never on the English text.",
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string", "description": "stable machine-readable error code"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"},
                   "description": "per-field or per-row issues, where there are several"},
    },
    "additionalProperties": True,
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PROBLEM_RESPONSES = {
    "422": "请求数据校验失败 Validation failed",
    "4XX": "客户端错误 Client error (401 missing or invalid token, 403 role or scope, 404, 409 conflict, "
           "412 If-Match, 413 body too large, 415, 429 …)",
    "503": "后端暂不可用，稍后重试 A backing service is unavailable; retry after Retry-After",
}


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare the problem+json error responses on every operation of an OpenAPI document, so
    the document is honest about what errors look like: FastAPI's own 422 (`HTTPValidationError`,
    application/json) is replaced, since our handler answers problem+json."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for item in openapi.get("paths", {}).values():
        for method, op in item.items():
            if method not in ("get", "put", "post", "patch", "delete", "head", "options"):
                continue
            responses = op.setdefault("responses", {})
            for status, description in _PROBLEM_RESPONSES.items():
                responses[status] = {"description": description,
                                     "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}}
    return openapi


def _jsonable_errors(errors: list[Any]) -> list[dict[str, Any]]:
    # Pydantic puts exception objects and raw bytes into `ctx`/`input`; keep what is
    # printable and drop the input itself, which may carry personal data (ID numbers).
    out = []
    for err in errors:
        out.append({"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")})
    return out


def install_problem_handlers(app: FastAPI, titles: Mapping[str, str] | None = None) -> None:
    """Every error as problem+json. `titles` are the service's bilingual titles of its refusal
    codes (shared/refusal.py): a domain `Refused` leaves the API here, and nowhere else."""
    titles = titles or {}

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        return problem_response(Problem(exc.status, exc.code, titles.get(exc.code, "请求被拒绝 Refused"), exc.message),
                                request.url.path)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(PersonalDataError)
    async def _personal(request: Request, exc: PersonalDataError) -> JSONResponse:
        p = Problem(422, "personal_data", "不得含身份证号 National ID number not allowed here",
                    f"{', '.join(exc.paths)}: a national ID number belongs only in the roster's national_id field",
                    fields=exc.paths)
        return problem_response(p, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        p = Problem(422, "validation_error", "数据校验失败 Validation failed",
                    errors=_jsonable_errors(list(exc.errors())))
        return problem_response(p, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title = _STATUS_CODES.get(exc.status_code, ("error", "错误 Error"))
        detail = exc.detail if isinstance(exc.detail, str) else None
        p = Problem(exc.status_code, code, title, detail, headers=dict(exc.headers or {}))
        return problem_response(p, request.url.path)

    async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
        # A value PostgreSQL cannot hold (NUL in text or JSON) in a parameter or field that no
        # validator covered: the statement failed, its transaction rolled back, nothing was written.
        p = Problem(422, "invalid_text", "文本含有无法保存的字符 Text cannot be stored",
                    "a value contains a character that cannot be stored, such as NUL (U+0000)")
        return problem_response(p, request.url.path)

    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # A value past what its column or parameter type holds (a bigint, a numeric(12,1), a
        # date), from input no validator bounded. Logged: a bug could surface here too.
        log.warning("value out of range on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        p = Problem(422, "value_out_of_range", "数值超出范围 Value out of range",
                    "a number, date or text is larger than can be stored")
        return problem_response(p, request.url.path)

    import asyncpg
    from asyncpg.exceptions import _base as asyncpg_base

    async def _lost_race(request: Request, exc: Exception) -> JSONResponse:
        # A unique or check constraint behind a guard fired: another command committed the same
        # fact first, between our facts query and our write. Nothing was written; reload and retry.
        log.info("constraint race on %s %s: %s", request.method, request.url.path, exc)
        p = Problem(409, "concurrency_conflict", "并发冲突 Concurrent change",
                    "another request changed the same records meanwhile; reload and retry")
        return problem_response(p, request.url.path)

    for race in (asyncpg.exceptions.UniqueViolationError, asyncpg.exceptions.CheckViolationError,
                 asyncpg.exceptions.ExclusionViolationError):
        app.add_exception_handler(race, _lost_race)

    for db_error in (asyncpg.exceptions.CharacterNotInRepertoireError,
                     asyncpg.exceptions.UntranslatableCharacterError):
        app.add_exception_handler(db_error, _unstorable)
    # asyncpg's client-side "invalid input for query argument" (e.g. an int past int64) subclasses
    # InterfaceError, which means "unavailable" below: this, more specific, handler wins.
    for db_error in (getattr(asyncpg_base, "DataError", None), asyncpg.exceptions.NumericValueOutOfRangeError,
                     asyncpg.exceptions.DatetimeFieldOverflowError,
                     asyncpg.exceptions.StringDataRightTruncationError):
        if db_error is not None:
            app.add_exception_handler(db_error, _out_of_range)

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        # Handled here, by type, rather than in the catch-all below: Starlette re-raises whatever
        # reaches the catch-all after answering, so uvicorn would log a traceback at ERROR for
        # every 503 of an outage and close the client's keep-alive connection (tests/faults saw
        # ~10 % of retries fail with a dropped connection instead of the 503).
        log.warning("backing service unavailable on %s %s: %s", request.method, request.url.path,
                    type(exc).__name__)
        p = Problem(503, "unavailable", "服务暂不可用 Service unavailable",
                    "A backing service is unreachable; retry later.", headers={"Retry-After": "2"})
        return problem_response(p, request.url.path)

    for unavailable in _unavailable_types():
        app.add_exception_handler(unavailable, _unavailable)  # type: ignore[arg-type]

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


def _unavailable_types() -> tuple[type[BaseException], ...]:
    import asyncpg

    return (
        ConnectionError, OSError, asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.AdminShutdownError, TimeoutError,
        # A failover demoted the server under us: writes are refused until the pool reaches the
        # new primary; nothing was written, so the client should retry.
        asyncpg.exceptions.ReadOnlySQLTransactionError,
        # PostgreSQL going down mid-query (fast shutdown, crash recovery).
        asyncpg.exceptions.OperatorInterventionError,
        # The same shutdown seen from a pooled connection that was released while still consuming
        # the server's FATAL (protocol state ERROR_CONSUME) and handed out again before asyncpg
        # marked it closed: "cannot switch to state 15; another operation (2) is in progress"
        # (tests/faults: PostgreSQL restarted under load).
        asyncpg.exceptions.InternalClientError,
    )


def _is_unavailable(exc: Exception) -> bool:
    return isinstance(exc, _unavailable_types())
