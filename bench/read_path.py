"""Read path: one read-model row by id, validated into its public schema and serialised, through
raw asyncpg and through SQLModel's ORM session (SQLAlchemy 2 async over the same asyncpg driver).

Issue 14 asks for SQLModel where it earns its place, or a measured reason to keep asyncpg on a read
path (more than 10 % slower). Both paths build the same `XPublic` model and JSON; only the database
access differs. Run: `python -m bench.read_path` (an embedded PostgreSQL, or DATABASE_URL's server).

    python -m bench.read_path --lookups 20000 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import ensure_database, with_database
from shared.devstack import start_postgres, stop_postgres


class ProjectBase(SQLModel):
    code: str
    name: str
    level: str
    category: str
    year: int
    hours: float
    hour_category: str
    starts_on: date
    ends_on: date
    status: str
    version: int


class Project(ProjectBase, table=True):
    __tablename__ = "bench_projects"
    id: uuid.UUID = Field(primary_key=True)


class ProjectPublic(ProjectBase):
    id: uuid.UUID


DDL = """CREATE TABLE IF NOT EXISTS bench_projects (id uuid PRIMARY KEY, code text, name text, level text,
         category text, year int, hours float8, hour_category text, starts_on date, ends_on date, status text,
         version int)"""


async def _seed(pool: asyncpg.Pool, n: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    async with pool.acquire() as conn:
        await conn.execute(DDL)
        await conn.execute("TRUNCATE bench_projects")
        await conn.copy_records_to_table("bench_projects", records=[
            (i, f"SX-{k}", f"项目{k}", "national", "农村骨干教师分层分类培训", 2023, 90.0, "centralized",
             date(2023, 7, 3), date(2023, 7, 12), "open", 3) for k, i in enumerate(ids)])
    return ids


async def _timed(work, ids: list[uuid.UUID], lookups: int, concurrency: int) -> tuple[float, float]:
    """(lookups per second, CPU seconds of this process per lookup)."""
    per = lookups // concurrency

    async def worker(w: int) -> None:
        for k in range(per):
            await work(ids[(w * per + k) % len(ids)])

    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return per * concurrency / wall, cpu / (per * concurrency)


async def measure(url: str, lookups: int, concurrency: int) -> dict[str, float]:
    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1),
                                 pool_size=concurrency, max_overflow=0)
    try:
        ids = await _seed(pool, 2000)

        async def raw(pid: uuid.UUID) -> bytes:
            async with pool.acquire() as conn:
                row = await conn.fetchrow("SELECT * FROM bench_projects WHERE id = $1", pid)
            return ProjectPublic.model_validate(dict(row)).model_dump_json().encode()

        async def orm(pid: uuid.UUID) -> bytes:
            async with AsyncSession(engine) as session:
                obj = (await session.exec(select(Project).where(Project.id == pid))).one()
            return ProjectPublic.model_validate(obj).model_dump_json().encode()

        assert await raw(ids[0]) == await orm(ids[0])  # the same answer, or the comparison means nothing
        for work in (raw, orm):  # warm both (connections, statement caches)
            await _timed(work, ids, concurrency * 20, concurrency)
        out: dict[str, float] = {}
        for _ in range(2):  # interleaved rounds: the machine's noise falls on both
            for name, work in (("asyncpg", raw), ("sqlmodel", orm)):
                rate, cpu = await _timed(work, ids, lookups, concurrency)
                out[f"{name}_per_s"] = max(out.get(f"{name}_per_s", 0.0), rate)
                out[f"{name}_cpu_us"] = min(out.get(f"{name}_cpu_us", 1e9), cpu * 1e6)
        return out
    finally:
        await engine.dispose()
        await pool.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lookups", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tt-read-") as d:
        server = os.environ.get("DATABASE_URL") or start_postgres(Path(d))
        try:
            url = with_database(server, "tt_bench_read")
            asyncio.run(ensure_database(url))
            r = asyncio.run(measure(url, args.lookups, args.concurrency))
        finally:
            if not os.environ.get("DATABASE_URL"):
                stop_postgres(Path(d))
    print(f"asyncpg : {r['asyncpg_per_s']:8.0f} lookups/s, {r['asyncpg_cpu_us']:6.0f} µs CPU each")
    print(f"sqlmodel: {r['sqlmodel_per_s']:8.0f} lookups/s, {r['sqlmodel_cpu_us']:6.0f} µs CPU each")
    print(f"sqlmodel / asyncpg: throughput {r['sqlmodel_per_s'] / r['asyncpg_per_s']:.2f}x, "
          f"CPU per lookup {r['sqlmodel_cpu_us'] / r['asyncpg_cpu_us']:.2f}x")


if __name__ == "__main__":
    main()
