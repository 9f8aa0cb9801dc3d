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
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import httpx

from bench.seed import ROSTER_HEADINGS, World, csv_bytes, import_roster, roster_csv, roster_rows


@dataclass
class ImportResult:
    rows: int
    seconds: float
    copy_seconds: float
    errors: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def copy_rate(self) -> float:
        return self.rows / self.copy_seconds if self.copy_seconds else 0.0


async def _copy(db: str, table: str, ddl: str, chunks: list[bytes]) -> float:
    conn = await asyncpg.connect(db)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({ddl})")
        seconds = 0.0
        for data in chunks:
            started = time.perf_counter()
            await conn.copy_to_table(table, source=io.BytesIO(data), format="csv")
            seconds += time.perf_counter() - started
        return seconds
    finally:
        await conn.close()


async def roster(world: World, copy_db: str, imports: int, rows: int, warm: int) -> ImportResult:
    """`imports` CSVs of `rows` teachers each (after a warm-up import of `warm`); all of them
    become the teachers the command figures nominate."""
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
    return ImportResult(imports * rows, seconds, copy_seconds, errors)


def _attendance_rows(world: World, enrollments: list[tuple[str, str]], days: range) -> list[list[str]]:
    return [[eid, (world.starts_on + timedelta(days=d)).isoformat(), "present", "6"]
            for eid, _ in enrollments for d in days]


async def attendance(world: World, copy_db: str, imports: int, rows: int) -> ImportResult:
    """`imports` CSVs of about `rows` rows each: three session days per checked-in enrollment."""
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
    return ImportResult(sum(len(b) for b in batches[1:]), seconds, copy_seconds, errors)
