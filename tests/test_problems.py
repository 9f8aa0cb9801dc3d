"""Infrastructure failures are a 503 problem with Retry-After (retry later), never a 500; a bug
is a 500 that says nothing about its cause. Pure: the handlers on a bare FastAPI app."""

from __future__ import annotations

import asyncpg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.problems import install_problem_handlers


def app_raising(exc: Exception, raise_server_exceptions: bool = False) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/things")
    async def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=raise_server_exceptions)


@pytest.mark.parametrize("exc", [
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
], ids=lambda e: type(e).__name__)
def test_an_unreachable_or_demoted_database_is_503_with_retry_after(exc):
    resp = app_raising(exc).post("/v1/things")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"].isdigit()
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["code"] == "unavailable"


def test_a_503_is_handled_not_re_raised_to_the_server():
    """Starlette re-raises what reaches the catch-all handler after answering; uvicorn then logs a
    traceback at ERROR and closes the keep-alive connection, so during an outage clients saw
    dropped connections besides the 503s (tests/faults). Outages are handled by type instead."""
    resp = app_raising(FileNotFoundError(2, "No such file or directory"), raise_server_exceptions=True).post(
        "/v1/things")
    assert resp.status_code == 503 and resp.headers["Retry-After"].isdigit()


def test_a_bug_is_a_500_that_does_not_echo_its_cause():
    resp = app_raising(ValueError("身份证号 610102198503070107 secret")).post("/v1/things")
    assert resp.status_code == 500 and resp.json()["code"] == "internal_error"
    assert "610102198503070107" not in resp.text and "secret" not in resp.text
