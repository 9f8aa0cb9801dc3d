"""What the fault scenarios do and what they must end with.

A wave works on two fresh projects of one county: project A has `n` teachers nominated, checked
in and started beforehand; project B is open. The load then runs, for i in 0..n-1 at a steady
rate (open loop: i is sent on time whether or not earlier ones were answered): nominate teacher
B[i] → check them in (one chain), and record A[i]'s attendance → complete enrollment A[i] (the
other chain). That is 4n commands touching every consumer: credits' intake (EnrollmentCompleted
→ HoursAwarded), funding's check-in count (TeacherCheckedIn), reporting's enrollments and
credits projections, enrollment's own attendance table.

`figures()` reads what each service's database holds for the wave; `expected()` is what it
must hold when every command was acknowledged once: n of each, no duplicates, outboxes empty.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import httpx

from bench.seed import COUNTY, PROVINCE, World, import_roster, open_project, org_tree
from tests.faults.load import Driver, paced
from tests.faults.stack import SERVICES, FaultStack

CREDIT_POLICY = {"effective_from": "2020-09-01", "cycle_years": 5, "cycle_start_year": 2020, "hours_per_credit": 20,
                 "annual_hours": 72, "cycle_hours": 360}


@dataclass
class Wave:
    n: int
    world: World
    a_project: str = ""
    b_project: str = ""
    a_enrollments: list[str] = field(default_factory=list)
    b_teachers: list[str] = field(default_factory=list)
    b_enrollments: list[str] = field(default_factory=list)  # acknowledged nominations
    checked_in: list[str] = field(default_factory=list)  # acknowledged check-ins (project B)
    attended: list[str] = field(default_factory=list)  # acknowledged attendance records (project A)
    completed: list[str] = field(default_factory=list)  # acknowledged completions (project A)
    session_date: date = date.min  # the load's attendance records are for this day (the first)
    started: float = 0.0  # time.monotonic() when the load began
    seconds: float = 0.0  # the load's duration: first command sent → last command acknowledged
    sent_seconds: float = 0.0  # first → last command sent (open loop: the offered rate's span)
    # A's enrollments whose chain must wait for another command first (the enrollment kill's
    # burst of attendance records): completed before it, they would refuse it.
    hold: dict[str, asyncio.Future] = field(default_factory=dict)

    COMMANDS_PER_STEP = 4

    @property
    def commands(self) -> int:
        return self.COMMANDS_PER_STEP * self.n

    @property
    def acked(self) -> int:
        return len(self.b_enrollments) + len(self.checked_in) + len(self.attended) + len(self.completed)

    # One token each per wave: minting one per command (a key read and a signature) cost the load
    # generator more CPU than the HTTP request did.
    @cached_property
    def host(self) -> dict[str, str]:
        return self.world.auth("host", self.world.host_id)

    @cached_property
    def county(self) -> dict[str, str]:
        return self.world.auth("county_admin", COUNTY)


def make_world(stack: FaultStack) -> World:
    return World(stack.url("enrollment"), stack.db("enrollment"), stack.keys)


async def seed_world(stack: FaultStack) -> World:
    """The org tree and a host (enrollment), the province's credit policy (credits)."""
    world = make_world(stack)
    await org_tree(world)
    async with httpx.AsyncClient(base_url=stack.url("credits"), timeout=30) as client:
        r = await client.put(f"/v1/policies/{PROVINCE}", json=CREDIT_POLICY, headers=world.province)
        r.raise_for_status()
    return world


async def prepare(stack: FaultStack, driver: Driver, world: World, n: int) -> Wave:
    """Project A with n checked-in enrollments, started; project B open with n places."""
    wave = Wave(n, world)
    teachers = await import_roster(world, 2 * n)
    a_teachers, wave.b_teachers = teachers[:n], teachers[n:]
    await open_project(world, places=n)
    wave.a_project = world.project_id
    wave.session_date = world.starts_on
    base = stack.url("enrollment")
    sem = asyncio.Semaphore(16)

    async def enroll(t: str) -> str:
        async with sem:
            s = await driver.send(base, f"/v1/projects/{wave.a_project}/nominations", f"prep-nom-{t}", wave.county,
                                  {"teacher_id": t, "region_code": COUNTY})
            eid = s.body["enrollment_id"]
            await driver.send(base, f"/v1/enrollments/{eid}/check-in", f"prep-chk-{eid}", wave.host)
            return eid

    wave.a_enrollments = list(await asyncio.gather(*(enroll(t) for t in a_teachers)))
    await driver.send(base, f"/v1/projects/{wave.a_project}/start", f"start-{wave.a_project}", world.province)
    await open_project(world, places=n)
    wave.b_project = world.project_id
    return wave


async def run_load(stack: FaultStack, driver: Driver, wave: Wave, rate: float) -> None:
    """For i in 0..n-1, `rate` commands per second in all (rate / 4 steps per second): nominate +
    check in B[i]; record attendance for A[i] + complete A[i]."""
    base = stack.url("enrollment")
    attendance = {"session_date": wave.session_date.isoformat(), "status": "present", "hours": 6}

    async def b_chain(i: int) -> None:
        t = wave.b_teachers[i]
        s = await driver.send(base, f"/v1/projects/{wave.b_project}/nominations", f"nom-{t}", wave.county,
                              {"teacher_id": t, "region_code": COUNTY})
        if s is None:
            return
        eid = s.body["enrollment_id"]
        wave.b_enrollments.append(eid)
        if await driver.send(base, f"/v1/enrollments/{eid}/check-in", f"chk-{eid}", wave.host):
            wave.checked_in.append(eid)

    async def a_chain(i: int) -> None:
        eid = wave.a_enrollments[i]
        if (first := wave.hold.get(eid)) is not None:
            await asyncio.shield(first)
        if not await driver.send(base, f"/v1/enrollments/{eid}/attendance", f"att1-{eid}", wave.host, attendance):
            return
        wave.attended.append(eid)
        if await driver.send(base, f"/v1/enrollments/{eid}/complete", f"done-{eid}", wave.host):
            wave.completed.append(eid)

    wave.started = time.monotonic()
    wave.sent_seconds = await paced(wave.n, rate / wave.COMMANDS_PER_STEP,
                                    lambda i: asyncio.gather(b_chain(i), a_chain(i)))
    wave.seconds = time.monotonic() - wave.started


async def figures(stack: FaultStack, wave: Wave) -> dict[str, int]:
    a, b = uuid.UUID(wave.a_project), uuid.UUID(wave.b_project)
    a_ids = [uuid.UUID(e) for e in wave.a_enrollments]
    f: dict[str, int] = {}

    async def events(service: str, etype: str, where: str, *args) -> tuple[int, int]:
        row = (await stack.fetch(service, f"SELECT count(*) AS n, count(DISTINCT stream_id) AS d FROM events "
                                          f"WHERE type = $1 AND {where}", etype, *args))[0]
        return row["n"], row["d"]

    f["enrollment TeacherNominated (B)"], f["enrollment nominated streams (B)"] = await events(
        "enrollment", "TeacherNominated", "data->>'project_id' = $2", str(b))
    f["enrollment TeacherCheckedIn (B)"], f["enrollment checked-in streams (B)"] = await events(
        "enrollment", "TeacherCheckedIn", "data->>'project_id' = $2", str(b))
    f["enrollment EnrollmentCompleted (A)"], f["enrollment completed streams (A)"] = await events(
        "enrollment", "EnrollmentCompleted", "data->>'project_id' = $2", str(a))
    f["enrollment AttendanceRecorded (A)"], f["enrollment attendance streams (A)"] = await events(
        "enrollment", "AttendanceRecorded", "data->>'project_id' = $2 AND data->>'session_date' = $3",
        str(a), wave.session_date.isoformat())
    f["enrollment read model attendance (A)"] = await stack.fetchval(
        "enrollment", "SELECT count(*) FROM attendance WHERE enrollment_id = ANY($1::uuid[]) AND session_date = $2",
        a_ids, wave.session_date)
    f["enrollment read model checked_in (B)"] = await stack.fetchval(
        "enrollment", "SELECT count(*) FROM enrollments WHERE project_id = $1 AND status = 'checked_in'", b)
    f["enrollment read model completed (A)"] = await stack.fetchval(
        "enrollment", "SELECT count(*) FROM enrollments WHERE project_id = $1 AND status = 'completed'", a)
    f["credits HoursAwarded (A)"], f["credits awarded enrollments (A)"] = [*await _awards(stack, a_ids)]
    f["credits ledger entries (A)"] = await stack.fetchval(
        "credits", "SELECT count(*) FROM entries WHERE (source->>'enrollment_id')::uuid = ANY($1::uuid[])", a_ids)
    f["funding check-ins counted (A)"] = await stack.fetchval(
        "funding", "SELECT count(*) FROM checkins WHERE project_id = $1", a)
    f["funding check-ins counted (B)"] = await stack.fetchval(
        "funding", "SELECT count(*) FROM checkins WHERE project_id = $1", b)
    f["reporting completed (A)"] = await stack.fetchval(
        "reporting", "SELECT count(*) FROM enrollments WHERE project_id = $1 AND status = 'completed'", a)
    f["reporting checked_in (B)"] = await stack.fetchval(
        "reporting", "SELECT count(*) FROM enrollments WHERE project_id = $1 AND status = 'checked_in'", b)
    f["reporting enrollments (A+B)"] = await stack.fetchval(
        "reporting", "SELECT count(*) FROM enrollments WHERE project_id = ANY($1::uuid[])", [a, b])
    for s in SERVICES:
        f[f"{s} outbox depth"] = await stack.fetchval(s, "SELECT count(*) FROM outbox")
    return f


async def _awards(stack: FaultStack, a_ids: list[uuid.UUID]) -> tuple[int, int]:
    row = (await stack.fetch(
        "credits", "SELECT count(*) AS n, count(DISTINCT data->'source'->>'enrollment_id') AS d FROM events "
                   "WHERE type = 'HoursAwarded' AND (data->'source'->>'enrollment_id')::uuid = ANY($1::uuid[])",
        a_ids))[0]
    return row["n"], row["d"]


def expected(wave: Wave) -> dict[str, int]:
    n = wave.n
    f = {k: n for k in (
        "enrollment TeacherNominated (B)", "enrollment nominated streams (B)", "enrollment TeacherCheckedIn (B)",
        "enrollment checked-in streams (B)", "enrollment EnrollmentCompleted (A)", "enrollment completed streams (A)",
        "enrollment AttendanceRecorded (A)", "enrollment attendance streams (A)",
        "enrollment read model attendance (A)",
        "enrollment read model checked_in (B)", "enrollment read model completed (A)", "credits HoursAwarded (A)",
        "credits awarded enrollments (A)", "credits ledger entries (A)", "funding check-ins counted (A)",
        "funding check-ins counted (B)", "reporting completed (A)", "reporting checked_in (B)")}
    f["reporting enrollments (A+B)"] = 2 * n
    f.update({f"{s} outbox depth": 0 for s in SERVICES})
    return f


async def converge(stack: FaultStack, wave: Wave, timeout: float = 180) -> tuple[dict[str, int], float]:
    """Poll the figures until they equal the expected ones; returns (figures, seconds taken).
    At the deadline returns the last figures seen, for the assertion to show the difference."""
    want, started = expected(wave), time.monotonic()
    while True:
        got = await figures(stack, wave)
        if got == want or time.monotonic() - started > timeout:
            return got, time.monotonic() - started
        await asyncio.sleep(0.5)
