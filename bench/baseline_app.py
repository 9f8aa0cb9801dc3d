"""The baseline: a bare FastAPI + asyncpg endpoint doing one INSERT per request.

Our command path is measured against this on the same machine in the same run: anything we
add (auth, idempotency, event store, outbox, projector) shows up as the ratio between them.

Beside it, the commands' floor (`/floor/...`): the same bare FastAPI, doing per request the SQL a
recorded attendance must do — the statements of bench/driver.py, on its tables: an event with the
event store's four indexes, the attendance row, the idempotency record and the enrollment's version,
after the facts — and nothing else (no auth, no kernel, no telemetry, no relay). `kernel` sends
them as the kernel does (four round trips in a transaction), `optimistic` in two (the facts, then
one checked write in PostgreSQL's implicit transaction). What a command costs above its floor is
ours; what the floor costs above the bare insert is the work itself.
"""

from __future__ import annotations

import contextlib
import os
import uuid

import asyncpg
import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from bench import driver
from shared.db import create_pool


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10)
    await app.state.pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_rows (id uuid PRIMARY KEY, body jsonb NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now())")
    # The floor's pool is the services' (shared/db.py): no reset query on release, as a command pays none.
    app.state.floor_pool = await create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10)
    async with app.state.floor_pool.acquire() as conn:
        if await conn.fetchval("SELECT to_regclass('d_events') IS NULL"):
            await conn.execute(driver.SCHEMA)
    yield
    await app.state.floor_pool.close()
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)
_SHAPES = {"kernel": driver.kernel_shape, "optimistic": driver.optimistic_shape}


@app.post("/rows", status_code=201)
async def insert(request: Request) -> Response:
    body = await request.body()
    row_id = uuid.uuid4()
    await request.app.state.pool.execute("INSERT INTO bench_rows (id, body) VALUES ($1, $2::jsonb)", row_id,
                                         body.decode())
    return Response(orjson.dumps({"id": str(row_id)}), status_code=201, media_type="application/json")


@app.post("/floor/enrollments")
async def seed(n: int) -> list[str]:
    """`n` enrollments for the floor's commands, one each (bench/command.py, not timed)."""
    async with app.state.floor_pool.acquire() as conn:
        return [str(i) for i in await driver.seed(conn, n)]


@app.post("/floor/{shape}/{enrollment_id}", status_code=201)
async def floor(shape: str, enrollment_id: uuid.UUID, request: Request) -> Response:
    run = _SHAPES.get(shape)
    if run is None:
        raise HTTPException(404)
    orjson.loads(await request.body())  # a command reads its body; the statements use fixed values
    async with request.app.state.floor_pool.acquire() as conn:
        await run(conn, enrollment_id)
    return Response(b'{"recorded":true}', status_code=201, media_type="application/json")


@app.get("/readyz")
async def readyz() -> dict:
    return {"status": "ready"}
