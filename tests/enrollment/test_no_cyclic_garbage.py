"""The command path leaves no reference cycles behind, on the real app (PostgreSQL + NATS).

Why it matters: shared/service.py runs CPython's cycle collector rarely (`gc.set_threshold`),
because under the command bench its passes found nothing to free (1,125 passes in a minute, 0
objects collected; full passes of 4-23 ms held every request meanwhile: docs/benchmarks.md). That
holds only while a command's objects die by reference counting. A cycle per request (an exception
kept with its traceback, a closure over its own frame, a callback holding its owner) would pile up
between the rarer passes: this test counts what a pass finds after a burst of commands, refusals
included. The app is called as ASGI directly: an HTTP client's own objects (httpx's responses and
their streams refer to each other) are not the service's to answer for."""

from __future__ import annotations

import gc
from typing import Any

import orjson

from shared.devkeys import mint_token
from tests.enrollment import seed
from tests.enrollment.seed import checked_in_enrollment

host, county = seed.host, seed.county
DAYS = [f"2023-07-{d}" for d in range(16, 26)]  # sessions of seed_project's 2023-07-15..30
ENROLLMENTS = 4


async def _post(app: Any, token: str, path: str, body: dict[str, Any]) -> int:
    """POST through the ASGI interface, nothing else in between; returns the status."""
    raw = orjson.dumps(body)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"enrollment"), (b"authorization", f"Bearer {token}".encode()),
                         (b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
             "client": ("127.0.0.1", 1), "server": ("enrollment", 80)}
    sent = {"done": False}
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        if sent["done"]:
            return {"type": "http.disconnect"}
        sent["done"] = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def test_a_burst_of_commands_leaves_no_cycles_to_collect(enrollment_app, keys_dir, epool, as_role, county,
                                                               host):
    eids = [(await checked_in_enrollment(epool, as_role, county, host, hours=90))[2] for _ in range(ENROLLMENTS)]
    token = mint_token(keys_dir, "host", org=host)  # as as_role("host", host)

    async def record(eid: str, day: str, status: str = "present") -> int:
        return await _post(enrollment_app, token, f"/v1/enrollments/{eid}/attendance",
                           {"session_date": day, "status": status, "hours": 6 if status == "present" else 0})

    assert await record(eids[0], DAYS[0]) == 200  # warm: lazily built routes, statements, caches
    assert await record(eids[0], DAYS[0], "leave") == 409  # and a refusal's path: no approved leave
    gc.collect()
    gc.disable()
    try:
        statuses = [await record(eid, day) for day in DAYS[1:] for eid in eids]
        statuses += [await record(eid, DAYS[2], "leave") for eid in eids]  # refused: leave_not_approved
        found = gc.collect()
    finally:
        gc.enable()
    assert statuses == [200] * (len(DAYS) - 1) * ENROLLMENTS + [409] * ENROLLMENTS
    # A cycle per request would leave 40 or more here; the app's background loops may leave a few.
    assert found < 20, f"{found} objects in reference cycles after {len(statuses)} commands"
