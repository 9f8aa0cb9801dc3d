"""Issue 16, consumer contracts: every projection that reads another service's events declares the
fields it reads (`reads`), each declared field is in the producer's committed JSON Schema for that
type (so a producer change that breaks a consumer fails here), and an event whose data does not fit
its producer's published schema, or of a version none is published for, is dead-lettered with the
reason and never applied."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from services.credits.projector.compliance import ComplianceProjection
from services.credits.projector.intake import IntakeProjection
from services.funding.projector.assessor import AssessorProjection
from services.funding.projector.directory import PROJECTIONS as FUNDING_DIRECTORY
from services.reporting.projector.directory import DirectoryProjection
from services.reporting.projector.enrollments import EnrollmentProjection
from services.reporting.projector.funding import FundingProjection
from shared.contracts import as_read, fields_of, published, refusal, unmet
from shared.envelope import Envelope
from shared.projection import Applier, Delivery, Outcome, Projection, Traced, replay_dead_letter

CONSUMERS: list[Projection] = [IntakeProjection(()), ComplianceProjection(), AssessorProjection(()),
                               *FUNDING_DIRECTORY, DirectoryProjection(), EnrollmentProjection(),
                               FundingProjection()]


@pytest.mark.parametrize("projection", CONSUMERS, ids=lambda p: p.name)
def test_every_declared_read_is_in_the_producers_published_schema(projection):
    assert projection.reads is not None, f"{projection.name} declares no reads"
    assert projection.handles is not None and set(projection.reads) == set(projection.handles)
    [service] = projection.sources
    assert unmet(service, projection.reads) == []


def test_a_producer_dropping_a_field_a_consumer_reads_is_caught():
    assert unmet("enrollment", {"EnrollmentCompleted": frozenset({"hours", "minutes"})}) == [
        "enrollment EnrollmentCompleted v1 has no field 'minutes'"]
    assert unmet("credits", {"HoursAwarded": frozenset({"source.year"})}) == [
        "credits HoursAwarded v2 has no field 'source.year'"]  # renamed in v2: project_year
    assert unmet("enrollment", {"NoSuchEvent": frozenset({"x"})}) == ["enrollment publishes no schema for NoSuchEvent"]
    schema = published("funding", "FundingAssessed", 1)
    assert schema is not None and {"rules.rule", "policy.version"} <= fields_of(schema)


def completed(**data) -> dict:
    return {"enrollment_id": str(uuid.uuid4()), "project_id": str(uuid.uuid4()), "teacher_id": str(uuid.uuid4()),
            "region_code": "360102", "host_id": str(uuid.uuid4()), "level": "provincial", "year": 2023,
            "hours": 30, "hour_category": "centralized", "completed_on": "2023-05-01"} | data


def envelope(data: dict, version: int = 1, type_: str = "EnrollmentCompleted") -> Envelope:
    return Envelope(uuid.uuid4(), "/enrollment", type_, f"enrollment-{uuid.uuid4()}",
                    datetime(2023, 5, 1, tzinfo=UTC), data, version, 1, 1)


def test_refusal_names_what_does_not_fit_of_what_the_consumer_reads():
    reads = {"EnrollmentCompleted": frozenset({"teacher_id", "hours"})}
    assert refusal(envelope(completed()), reads) is None
    assert "hours" in (refusal(envelope(completed(hours="thirty")), reads) or "")
    assert "teacher_id" in (refusal(envelope(completed(teacher_id=7)), reads) or "")
    assert refusal(envelope(completed(level=3)), reads) is None  # not read: not its business
    assert refusal(envelope(completed(added_later="x")), reads) is None  # a tolerant reader
    assert refusal(envelope(completed(), version=7), reads) == (
        "no published schema for enrollment EnrollmentCompleted v7")
    assert refusal(envelope({"hours": 1}, type_="NoSuchEvent"), reads) == (
        "no published schema for enrollment NoSuchEvent v1")


def test_a_whole_number_where_an_integer_is_published_arrives_as_an_int():
    # JSON Schema's integer admits 2023.0; Python keeps it a float, which an int column or the strict
    # model of an event recorded in reaction (credits' award copies the year) refuses.
    reads = {"EnrollmentCompleted": frozenset({"year", "hours"})}
    whole = envelope(completed(year=2023.0, hours=30.0))
    assert refusal(whole, reads) is None
    read = as_read(whole, reads)
    assert type(read.data["year"]) is int and read.data["year"] == 2023
    assert type(read.data["hours"]) is float  # published as a number: left as sent
    assert whole.data["year"] == 2023.0 and type(whole.data["year"]) is float  # the delivery is not changed
    plain = envelope(completed())
    assert as_read(plain, reads) is plain  # nothing to change: no copy
    assert as_read(whole, {"EnrollmentCompleted": frozenset({"hours"})}) is whole  # not read: not touched
    assert refusal(envelope(completed(year=2023.5)), reads) is not None  # a fraction is no integer at all
    # Nested fields too (dotted reads), and only those read.
    assessed = Envelope(uuid.uuid4(), "/funding", "FundingAssessed", f"funding-{uuid.uuid4()}",
                        datetime(2023, 5, 1, tzinfo=UTC),
                        {"year": 2023.0, "spent_fen": 150000.0, "policy": {"version": 3.0, "name": "x"}}, 1, 1, 1)
    read = as_read(assessed, {"FundingAssessed": frozenset({"year", "policy.version"})})
    assert read.data == {"year": 2023, "spent_fen": 150000.0, "policy": {"version": 3, "name": "x"}}
    assert type(read.data["policy"]["version"]) is int and type(read.data["spent_fen"]) is float
    assert assessed.data["policy"]["version"] == 3.0 and type(assessed.data["policy"]["version"]) is float


class Completions(Projection):
    """Records what it applied (in memory): a consumer of enrollment's completions with a contract."""

    sources = ("enrollment",)
    handles = frozenset({"EnrollmentCompleted"})
    reads = {"EnrollmentCompleted": frozenset({"teacher_id", "hours"})}

    def __init__(self, name: str, batched: bool) -> None:
        self.name = name
        self.applied: list[uuid.UUID] = []
        if batched:
            self.apply_batch = self._apply_batch

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        assert isinstance(event.data["hours"], int | float)
        self.applied.append(event.id)

    async def _apply_batch(self, conn: asyncpg.Connection, items: list[Traced]) -> None:
        for item in items:
            await self.apply(conn, item.event)

    async def reset(self, conn: asyncpg.Connection) -> None:
        self.applied.clear()


@pytest.mark.parametrize("batched", [False, True], ids=["one_by_one", "batched"])
async def test_data_that_breaks_the_contract_is_dead_lettered_at_once_with_its_reason(pool, batched):
    projection = Completions(f"contract_{uuid.uuid4().hex[:8]}", batched)
    good, malformed, unknown, later = (envelope(completed()), envelope(completed(hours="30")),
                                       envelope(completed(), version=3), envelope(completed()))
    outcomes = await Applier(projection).apply(pool, [Delivery(e, 1) for e in (good, malformed, unknown, later)])
    assert outcomes == [Outcome.APPLIED, Outcome.DEAD, Outcome.DEAD, Outcome.APPLIED]  # first delivery: no retry
    assert projection.applied == [good.id, later.id]  # never half-applied
    dead = {r["event_id"]: r for r in await pool.fetch(
        "SELECT id, event_id, error FROM dead_letters WHERE projection = $1", projection.name)}
    assert set(dead) == {malformed.id, unknown.id}
    assert dead[malformed.id]["error"].startswith("contract: enrollment EnrollmentCompleted v1 does not fit")
    assert dead[malformed.id]["error"].endswith('hours: "30" is not of type "number"')
    assert dead[unknown.id]["error"] == "contract: no published schema for enrollment EnrollmentCompleted v3"
    # A dead letter that still breaks the contract is not applied by a replay either.
    with pytest.raises(ValueError, match="contract"):
        await replay_dead_letter(pool, projection, dead[malformed.id]["id"])
    assert projection.applied == [good.id, later.id]


class Years(Completions):
    """Reads the year, which enrollment publishes as an integer, and needs it as one."""

    reads = {"EnrollmentCompleted": frozenset({"teacher_id", "hours", "year"})}

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        if type(event.data["year"]) is not int:
            raise TypeError(f"year {event.data['year']!r} is not an int")
        self.applied.append(event.id)


@pytest.mark.parametrize("batched", [False, True], ids=["one_by_one", "batched"])
async def test_a_whole_float_is_applied_as_an_int_live_and_on_replay(pool, batched):
    projection = Years(f"contract_{uuid.uuid4().hex[:8]}", batched)
    whole = envelope(completed(year=2023.0))
    assert await Applier(projection).apply(pool, [Delivery(whole, 1)]) == [Outcome.APPLIED]
    assert projection.applied == [whole.id]
    # A dead letter parked before consumers read integers as ints (the handler failed on the float)
    # applies when replayed now.
    parked = envelope(completed(year=2024.0))
    dead_id = await pool.fetchval(
        """INSERT INTO dead_letters (projection, event_id, stream_id, version, type, envelope, error, deliveries,
                                     failures)
           VALUES ($1, $2, $3, 1, 'EnrollmentCompleted', $4, 'TypeError: year 2024.0 is not an int', 5, 5)
           RETURNING id""", projection.name, parked.id, f"enrollment:{parked.subject}", parked.to_cloudevent())
    assert await replay_dead_letter(pool, projection, dead_id) is True
    assert projection.applied == [whole.id, parked.id]
