"""PostgreSQL plumbing: pools with JSON codecs, database creation, SQL-file migrations."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

from . import sqlprofile
from .eventstore import adopt_restored_events, restored_events_pending

log = logging.getLogger(__name__)
KERNEL_MIGRATIONS = Path(__file__).parent / "migrations"
# Arbitrary but fixed: every replica that starts at once queues here instead of racing DDL.
_MIGRATION_LOCK = 0x7474_6D69_6772


class Connection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no type hints
    """asyncpg's connection, able to run callbacks once its current transaction has committed.

    The event store uses it to wake the service's relay after a transaction that appended events
    commits (shared/eventstore.py, "Waking the relay"). asyncpg ends a transaction with `execute`
    (COMMIT, ROLLBACK, or the ROLLBACK of a connection released with one open), so that is where
    the end is seen: the callbacks run when the server answered a COMMIT with COMMIT, and are
    dropped when the transaction ended any other way. One that ends unseen (the connection lost
    mid-COMMIT) only costs the relay a wake: it polls as well."""

    __slots__ = ("_after_commit", "prepared_names")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._after_commit: list[Callable[[], None]] = []
        self.prepared_names: set[str] = set()  # SQL-level prepared statements (shared/sqltext.py Prepared)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` (once, however often it is registered) after this transaction commits."""
        if all(cb is not callback for cb in self._after_commit):
            self._after_commit.append(callback)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        status: str = await super().execute(query, *args, timeout=timeout)
        if self._after_commit and not self.is_in_transaction():
            callbacks, self._after_commit = self._after_commit, []
            if status == "COMMIT":  # an aborted transaction's COMMIT answers ROLLBACK
                for callback in callbacks:
                    callback()
        return status


async def _init_connection(conn: asyncpg.Connection) -> None:
    sqlprofile.watch(conn)  # nothing unless TT_SQL_PROFILE is set (make bench-profile)
    # orjson both ways: jsonb in and out of the event store is the hottest serialisation path.
    # Binary format (jsonb's is a version byte, 1, then the JSON text) so that asyncpg's binary
    # COPY (copy_records_to_table) can carry jsonb columns too.
    await conn.set_type_codec("jsonb", schema="pg_catalog", format="binary",
                              encoder=lambda v: b"\x01" + orjson.dumps(v), decoder=lambda b: orjson.loads(b[1:]))
    await conn.set_type_codec("json", schema="pg_catalog", format="binary",
                              encoder=orjson.dumps, decoder=orjson.loads)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release hook that skips asyncpg's reset query (advisory unlock all, CLOSE ALL, UNLISTEN *,
    RESET ALL): one round trip per request saved. asyncpg still rolls back an open transaction
    and drops listeners on release. Safe because pool connections carry no session state: locks
    are transaction-scoped (`pg_advisory_xact_lock`), nothing LISTENs or SETs on them, and what
    needs a session lock (the relay's leadership) has a connection of its own; migrate() unlocks
    in `finally`."""


async def create_pool(dsn: str, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection,
                                     reset=_keep_session, connection_class=Connection)


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, connection_class=Connection)
    await _init_connection(conn)
    return conn


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (keeps host, socket dir, options)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


async def ensure_database(url: str) -> None:
    """Create the database named in `url` if the server lacks it (local and test setups)."""
    name = database_name(url)
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # another process won the race; fine
    finally:
        await admin.close()


async def drop_database(url: str) -> None:
    name = database_name(url)
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def migration_files(*dirs: Path) -> list[tuple[str, Path]]:
    """(recorded name, file) of the kernel's and the given folders' migrations, in apply order."""
    files = [p for d in (KERNEL_MIGRATIONS, *dirs) for p in sorted(d.glob("*.sql"))]
    return [(f"{p.parent.parent.name}/{p.name}" if p.parent.name == "migrations" else p.name, p) for p in files]


RENUMBER_RESTORED = "renumber the events restored from another server (shared/eventstore.py)"


async def pending_migrations(conn: asyncpg.Connection, *dirs: Path) -> list[str]:
    """Names of the migrations `migrate(conn, *dirs)` would apply now (read-only, no lock)."""
    table = await conn.fetchval("SELECT to_regclass('schema_migrations')")
    done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")} if table else set()
    todo = [name for name, _ in migration_files(*dirs) if name not in done]
    # Not a file, but work `migrate` must do before a pod serves: `--wait` holds the pods back.
    if await conn.fetchval("SELECT to_regclass('events')") and await restored_events_pending(conn):
        todo.append(RENUMBER_RESTORED)
    return todo


async def migrate(conn: asyncpg.Connection, *dirs: Path) -> list[str]:
    """Apply *.sql files from the kernel and the given folders, each once, in name order.

    Files are applied in one transaction each; the advisory lock makes concurrent starts safe.
    Names must be unique across folders (prefix service files with the service name).
    """
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, path in migration_files(*dirs):
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text(encoding="utf-8"))
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied.append(name)
            log.info("applied migration %s", name)
        if renumbered := await adopt_restored_events(conn):
            log.warning("events restored from another server: %d renumbered into this server's commit order "
                        "(shared/eventstore.py)", renumbered)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied
