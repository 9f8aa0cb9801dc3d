"""Bulk imports over HTTP, rows per second, against PostgreSQL COPY of the same rows.

- roster: POST /v1/teachers/import, one county CSV per request (validation, encrypted national IDs,
  duplicate checks, one TeacherRegistered stream per row with its query rows, all or nothing);
  baseline: COPY of the same CSV rows (plus an id) into a plain table with the same columns.
- attendance: POST /v1/projects/{id}/attendance/import, one CSV per request (each enrollment's
  stream loaded, rules checked, one AttendanceRecorded per row); baseline: COPY of the same rows
  into a plain table (enrollment_id, session_date, status, hours).

Timed: ours from sending each request to reading its answer, summed over the requests after one
small warm-up import; COPY from the start to the end of each copy_to_table, summed over the same
chunks. The rows are built before either clock starts.
"""

from __future__ import annotations

import io
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import asyncpg
import httpx

from bench.seed import ROSTER_HEADINGS, SCHOOL, World, csv_bytes, import_roster, roster_csv, roster_rows
from shared.db import connect, migrate


@dataclass
class ImportResult:
    rows: int
    seconds: float
    copy_seconds: float
    errors: int
    floor_seconds: float = 0.0  # the same rows COPYed into the tables the import writes

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def copy_rate(self) -> float:
        return self.rows / self.copy_seconds if self.copy_seconds else 0.0

    @property
    def floor_rate(self) -> float:
        return self.rows / self.floor_seconds if self.floor_seconds else 0.0


async def _copy(db: str, table: str, ddl: str, chunks: list[bytes], runs: int = 3) -> float:
    """Seconds to COPY the chunks into a fresh table: the median of `runs` runs, each on a table
    created anew. A single run of these few tens of milliseconds moved by a factor of up to four
    between identical runs on a busy two-core machine; the median keeps the baseline steady
    without favouring either side (ours is summed over several requests too)."""
    conn = await asyncpg.connect(db)
    try:
        totals = []
        for _ in range(runs):
            await conn.execute(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({ddl})")
            seconds = 0.0
            for data in chunks:
                started = time.perf_counter()
                await conn.copy_to_table(table, source=io.BytesIO(data), format="csv")
                seconds += time.perf_counter() - started
            totals.append(seconds)
        return statistics.median(totals)
    finally:
        await conn.close()


async def roster(world: World, copy_db: str, imports: int, rows: int, warm: int,
                 floor_db: str | None = None) -> ImportResult:
    """`imports` CSVs of `rows` teachers each (after a warm-up import of `warm`); all of them
    become the teachers the command figures nominate. With `floor_db`, also the floor of the
    import's own writes on that database (_roster_floor)."""
    await import_roster(world, warm)
    bodies = [roster_csv(world, rows) for _ in range(imports)]  # made before the clock, as COPY's chunks
    seconds, errors, done = 0.0, 0, 0
    for body in bodies:
        started = time.perf_counter()
        try:
            await import_roster(world, rows, body)
            done += rows
        except httpx.HTTPError as exc:
            print(f"roster import failed: {exc}", flush=True)
            errors += 1
        seconds += time.perf_counter() - started
    base = 10_000_000  # other national-id numbers than the imported ones; the same shape of row
    chunks = [csv_bytes(None, [[str(uuid.uuid4()), *r] for r in roster_rows(base + i * rows, rows)])
              for i in range(imports)]
    copy_seconds = await _copy(copy_db, "roster_copy", "id uuid PRIMARY KEY, " + ", ".join(
        f"{h} {'date' if h == 'hired_on' else 'text'}" for h in ROSTER_HEADINGS), chunks)
    floor = await _roster_floor(floor_db, imports, rows) if floor_db else 0.0
    return ImportResult(imports * rows, seconds, copy_seconds, errors, floor)


async def _roster_floor(db: str, imports: int, rows: int) -> float:
    """What the import's own writes cost with nothing else: per teacher a TeacherRegistered event,
    an identity row and a teachers row, COPYed into the enrollment schema's tables (fresh database,
    every index and constraint the service has) in one transaction per file — no HTTP, parsing,
    checks, encryption or envelopes. The import can come near this figure, never above it; its
    ratio to the plain COPY bounds the roster import's ratio."""
    from services.enrollment.main import spec

    conn = await connect(db)
    try:
        await migrate(conn, spec.migrations)
        await conn.execute("INSERT INTO orgs (code, name, kind, parent_code, version) VALUES ($1, '学校', 'school', "
                           "NULL, 1) ON CONFLICT DO NOTHING", SCHOOL)
        meta = {"actor": {"sub": str(uuid.uuid4()), "role": "province_admin", "org": "61"},
                "correlation_id": str(uuid.uuid4())}
        seconds = 0.0
        for k in range(imports):
            ids = [uuid.uuid4() for _ in range(rows)]
            people = roster_rows(20_000_000 + k * rows, rows)
            events = [(f"teacher-{t}", 1, uuid.uuid4(), "TeacherRegistered", 1,
                       {"teacher_id": str(t), "school_code": SCHOOL, "subject": p[3], "stage": p[4], "title": p[5],
                        "hired_on": p[6]}, meta) for t, p in zip(ids, people, strict=True)]
            identities = [(t, p[0], os.urandom(32), os.urandom(60), p[1][:4] + "*" * 10 + p[1][-4:],
                           date(1980, 1, 1)) for t, p in zip(ids, people, strict=True)]
            teachers = [(t, SCHOOL, p[3], p[4], p[5], date.fromisoformat(p[6]), 1) for t, p in zip(ids, people,
                                                                                                      strict=True)]
            started = time.perf_counter()
            async with conn.transaction():
                await conn.copy_records_to_table("events", records=events, columns=[
                    "stream_id", "version", "event_id", "type", "schema_version", "data", "metadata"])
                await conn.copy_records_to_table("teacher_identities", records=identities, columns=[
                    "teacher_id", "name", "national_id_hash", "national_id_enc", "national_id_masked", "birth_date"])
                await conn.copy_records_to_table("teachers", records=teachers, columns=[
                    "id", "school_code", "subject", "stage", "title", "hired_on", "version"])
            seconds += time.perf_counter() - started
        return seconds
    finally:
        await conn.close()


def _attendance_rows(world: World, enrollments: list[tuple[str, str]], days: range) -> list[list[str]]:
    return [[eid, (world.starts_on + timedelta(days=d)).isoformat(), "present", "6"]
            for eid, _ in enrollments for d in days]


async def attendance(world: World, copy_db: str, imports: int, rows: int,
                     floor_db: str | None = None) -> ImportResult:
    """`imports` CSVs of about `rows` rows each: three session days per checked-in enrollment.
    With `floor_db`, also the floor of the import's own writes on that database (_attendance_floor)."""
    days = range(2, 5)
    per_import = max(1, rows // len(days))
    pool = world.checked_in
    if not pool:
        raise RuntimeError("no checked-in enrollments to import attendance for")
    host = world.auth("host", world.host_id)
    url = f"/v1/projects/{world.project_id}/attendance/import"
    heading = ["enrollment_id", "session_date", "status", "hours"]

    def batch(k: int) -> list[list[str]]:
        start = (k * per_import) % len(pool)
        chosen = (pool[start:] + pool[:start])[:per_import]
        return _attendance_rows(world, chosen, days)

    batches = [batch(k) for k in range(imports + 1)]
    seconds, errors, done = 0.0, 0, 0
    async with httpx.AsyncClient(base_url=world.url, timeout=600,
                                 headers={**host, "Content-Type": "text/csv"}) as client:
        warm = batches[0][:30]
        (await client.post(url, content=csv_bytes(heading, warm))).raise_for_status()
        for rows_ in batches[1:]:
            body = csv_bytes(heading, rows_)
            started = time.perf_counter()
            r = await client.post(url, content=body)
            seconds += time.perf_counter() - started
            if r.status_code == 200:
                done += len(rows_)
            else:
                print(f"attendance import failed: {r.status_code} {r.text[:500]}", flush=True)
                errors += 1
    chunks = [csv_bytes(None, b) for b in batches[1:]]
    copy_seconds = await _copy(copy_db, "attendance_copy",
                               "enrollment_id uuid, session_date date, status text, hours numeric", chunks)
    floor = await _attendance_floor(world, floor_db, batches[1:]) if floor_db else 0.0
    return ImportResult(sum(len(b) for b in batches[1:]), seconds, copy_seconds, errors, floor)


# The tables an attendance row's enrollment hangs on, parents first (their foreign keys).
_ENROLLMENT_PARENTS = ("orgs", "hosts", "teachers", "projects", "enrollments")


async def _attendance_floor(world: World, db: str, batches: list[list[list[str]]]) -> float:
    """What the attendance import's own writes cost with nothing else, on the enrollment schema
    (fresh database, every index and constraint the service has), one transaction per file: per
    row an AttendanceRecorded event and an attendance row, both by COPY, and each enrollment's
    version moved once, as the import's read model does. No HTTP, parsing, rules, envelopes or
    idempotency record. Each file's rows get dates of their own, so no COPY meets a row already
    there (the import itself replaces such a row). The enrollments come from the bench's service
    database with the rows they reference. The import can come near this figure, never above it."""
    from services.enrollment.main import spec

    conn, source = await connect(db), await asyncpg.connect(world.db)
    try:
        await migrate(conn, spec.migrations)
        async with conn.transaction():
            for table in _ENROLLMENT_PARENTS:
                buf = io.BytesIO()
                await source.copy_from_table(table, output=buf, format="binary")
                buf.seek(0)
                await conn.execute(f"DELETE FROM {table}")  # what migrations seeded (none today)
                await conn.copy_to_table(table, source=buf, format="binary")
        versions: dict[str, int] = dict(await conn.fetch("SELECT id::text, version FROM enrollments"))
        teacher_of = dict(world.checked_in)
        meta = {"actor": {"sub": world.host_id, "role": "host", "org": world.host_id},
                "correlation_id": str(uuid.uuid4())}
        seconds = 0.0
        for k, rows in enumerate(batches):
            shift = timedelta(days=100 * (k + 1))
            events, attendance = [], []
            for eid, day, status, hours in rows:
                session_date = date.fromisoformat(day) + shift
                versions[eid] += 1
                events.append((f"enrollment-{eid}", versions[eid], uuid.uuid4(), "AttendanceRecorded", 1, {
                    "enrollment_id": eid, "project_id": world.project_id, "teacher_id": teacher_of[eid],
                    "session_date": session_date.isoformat(), "status": status, "hours": float(hours)}, meta))
                attendance.append((uuid.UUID(eid), session_date, status, float(hours)))
            moved = {eid: versions[eid] for eid, *_ in rows}
            started = time.perf_counter()
            async with conn.transaction():
                await conn.copy_records_to_table("events", records=events, columns=[
                    "stream_id", "version", "event_id", "type", "schema_version", "data", "metadata"])
                await conn.copy_records_to_table("attendance", records=attendance, columns=[
                    "enrollment_id", "session_date", "status", "hours"])
                await conn.execute("UPDATE enrollments e SET version = t.v FROM unnest($1::uuid[], $2::int[]) "
                                   "AS t(id, v) WHERE e.id = t.id", list(moved), list(moved.values()))
            seconds += time.perf_counter() - started
        return seconds
    finally:
        await source.close()
        await conn.close()
