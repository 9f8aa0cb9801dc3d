"""The baseline: a bare FastAPI + asyncpg endpoint doing one INSERT per request.

Our command path is measured against this on the same machine in the same run: anything we
add (auth, idempotency, event store, outbox, projector) shows up as the ratio between them.
"""

from __future__ import annotations

import contextlib
import os
import uuid

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10)
    await app.state.pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_rows (id uuid PRIMARY KEY, body jsonb NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now())")
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/rows", status_code=201)
async def insert(request: Request) -> Response:
    body = await request.body()
    row_id = uuid.uuid4()
    await request.app.state.pool.execute("INSERT INTO bench_rows (id, body) VALUES ($1, $2::jsonb)", row_id,
                                         body.decode())
    return Response(orjson.dumps({"id": str(row_id)}), status_code=201, media_type="application/json")


@app.get("/readyz")
async def readyz() -> dict:
    return {"status": "ready"}
