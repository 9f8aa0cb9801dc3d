"""What bench/province.py reads off the running system: projection catch-up (from the services'
`/v1/projections`), database and table sizes, WAL written, JetStream stream bytes, events per
type, and CPU seconds per process group."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import nats
import psutil

OWNERS = ("enrollment", "credits", "funding")  # services with an event store and a stream
FOLLOWERS = ("credits", "funding", "reporting")  # services with projections of streams


@dataclass
class Snapshot:
    db_bytes: dict[str, int]
    stream_bytes: dict[str, int]
    stream_messages: dict[str, int]
    events: dict[str, int]
    wal_bytes: int | None  # cluster-wide WAL position; meaningful only on a server of our own

    @property
    def total_db(self) -> int:
        return sum(self.db_bytes.values())

    @property
    def total_stream(self) -> int:
        return sum(self.stream_bytes.values())


async def snapshot(dsns: dict[str, str], nats_url: str, streams: dict[str, str], own_server: bool) -> Snapshot:
    db, events, wal = {}, {}, None
    for service, dsn in dsns.items():
        conn = await asyncpg.connect(dsn)
        try:
            db[service] = await conn.fetchval("SELECT pg_database_size(current_database())")
            if service in OWNERS:
                events[service] = await conn.fetchval("SELECT count(*) FROM events")
            if own_server and wal is None:
                wal = int(await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"))
        finally:
            await conn.close()
    sb, sm = {}, {}
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for service, name in streams.items():
            info = await js.stream_info(name)
            sb[service], sm[service] = info.state.bytes, info.state.messages
    finally:
        await nc.close()
    return Snapshot(db, sb, sm, events, wal)


async def top_tables(dsn: str, n: int = 6) -> list[tuple[str, int, int]]:
    """(table, total bytes with indexes and TOAST, exact rows) for the n biggest tables."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT c.relname, pg_total_relation_size(c.oid) AS bytes FROM pg_class c
               JOIN pg_namespace s ON s.oid = c.relnamespace
               WHERE c.relkind = 'r' AND s.nspname = 'public' ORDER BY 2 DESC LIMIT $1""", n)
        return [(r["relname"], r["bytes"], await conn.fetchval(f'SELECT count(*) FROM "{r["relname"]}"'))
                for r in rows]
    finally:
        await conn.close()


async def event_types(dsn: str) -> list[tuple[str, int, float]]:
    """(type, count, mean bytes of the stored row) per event type, most numerous first."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("""SELECT type, count(*) AS n, avg(pg_column_size(e.*))::float8 AS b
                                   FROM events e GROUP BY type ORDER BY 2 DESC""")
        return [(r["type"], r["n"], r["b"]) for r in rows]
    finally:
        await conn.close()


@dataclass
class CatchUp:
    seconds: float
    caught_up: bool
    behind: dict[str, int] = field(default_factory=dict)  # projection → events still to apply
    dead_letters: int = 0


async def catch_up(session: aiohttp.ClientSession, urls: dict[str, str], token: str, dsns: dict[str, str],
                   timeout: float, poll: float = 0.5) -> CatchUp:
    """Wait until every projection has applied its source's last event and no outbox holds a row:
    for each consumer listed by `GET /v1/projections`, last_position ≥ max(events.position) of
    its source. Re-read each poll: credits appends awards while it catches up."""
    started = time.monotonic()
    pools = {s: await asyncpg.create_pool(dsns[s], min_size=1, max_size=1) for s in OWNERS}
    headers = {"Authorization": f"Bearer {token}"}
    behind: dict[str, int] = {}
    dead = 0
    try:
        while True:
            heads, outbox = {}, 0
            for s, pool in pools.items():
                row = await pool.fetchrow("SELECT (SELECT coalesce(max(position), 0) FROM events) AS head,"
                                          " (SELECT count(*) FROM outbox) AS outbox")
                heads[s], outbox = row["head"], outbox + row["outbox"]
            behind, dead = {}, 0
            for s in FOLLOWERS:
                async with session.get(f"{urls[s]}/v1/projections", headers=headers) as r:
                    r.raise_for_status()
                    body = await r.json()
                for p in body["projections"]:
                    dead += p["dead_letters"]
                    gap = heads[p["source"]] - p["last_position"]
                    if gap > 0 or p["lag"]:
                        behind[p["projection"]] = max(gap, p["lag"] or 0)
            if not behind and not outbox:
                return CatchUp(time.monotonic() - started, True, {}, dead)
            if outbox:
                behind["outbox"] = outbox
            if time.monotonic() - started > timeout:
                return CatchUp(time.monotonic() - started, False, behind, dead)
            await asyncio.sleep(poll)
    finally:
        for pool in pools.values():
            await pool.close()


class Cpu:
    """CPU seconds of process groups: each service, our PostgreSQL (postmaster and backends),
    NATS, and this load generator. Groups whose processes we cannot see are left out."""

    def __init__(self, services: dict[str, int], pgdata: Path | None, nats_pid: int | None) -> None:
        self.groups: dict[str, list[psutil.Process]] = {s: [psutil.Process(pid)] for s, pid in services.items()}
        self.postmaster = None
        if pgdata is not None and (pidfile := pgdata / "postmaster.pid").exists():
            self.postmaster = psutil.Process(int(pidfile.read_text().split()[0]))
        if nats_pid:
            self.groups["nats"] = [psutil.Process(nats_pid)]
        self.groups["bench"] = [psutil.Process()]

    def read(self) -> dict[str, float]:
        out = {}
        for name, procs in self.groups.items():
            out[name] = sum(_cpu(p, children=False) for p in procs)
        if self.postmaster is not None:
            # Backends come and go; the postmaster's children_* fields keep those it reaped.
            total = _cpu(self.postmaster, children=True)
            for child in self.postmaster.children():
                total += _cpu(child, children=False)
            out["postgres"] = total
        return out


def _cpu(p: psutil.Process, children: bool) -> float:
    try:
        t = p.cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system + ((t.children_user + t.children_system) if children else 0.0)


def machine() -> str:
    mem = psutil.virtual_memory().total / 2**30
    load = ", ".join(f"{x:.1f}" for x in psutil.getloadavg())
    return f"{psutil.cpu_count()} cores, {mem:.0f} GiB RAM (load average before the run: {load})"
