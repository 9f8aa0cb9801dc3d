"""One trace per request across services (issue 7): an enrollment command's trace continues
through enrollment's outbox relay and the NATS headers into the credits and reporting
projections — and on through the HoursAwarded credits records in reaction, its relay, and the
projection that follows the credits stream. Real enrollment, credits and reporting apps, real PostgreSQL and
NATS; spans captured in memory.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import telemetry
from shared.clock import shanghai_today
from shared.devkeys import mint_token
from tests.conftest import client_for, eventually
from tests.reporting.given import ok
from tests.reporting.scenario import national_id

PROVINCE, CITY, COUNTY, SCHOOL = "610000", "610100", "610102", "610102001"


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    spans = InMemorySpanExporter()
    telemetry.setup_tracing("tests", spans)
    return spans


@pytest.fixture(scope="module")
async def apps(exporter, launch, keys_dir):
    async with launch("enrollment") as enrollment, launch("credits") as credits, launch(
            "reporting", service_token=mint_token(keys_dir, "service", sub="reporting")) as reporting:
        yield enrollment, credits, reporting


async def completed_enrollment(enrollment, keys_dir) -> tuple[str, object]:
    """Orgs, a teacher and a started provincial project with one checked-in enrollment; returns
    the enrollment id and the host's client that will complete it."""
    today = {"d": date(2023, 6, 20)}
    enrollment.dependency_overrides[shanghai_today] = lambda: today["d"]
    as_role = client_for(enrollment, keys_dir, "http://enrollment")
    province = as_role("province_admin", PROVINCE)
    for code, kind, parent in [(PROVINCE, "province", None), (CITY, "city", PROVINCE),
                               (COUNTY, "county", CITY), (SCHOOL, "school", COUNTY)]:
        await ok(await province.put(f"/v1/orgs/{code}", json={"name": code, "kind": kind, "parent_code": parent}), 201)
    host = str(uuid.uuid4())
    await ok(await province.put(f"/v1/hosts/{host}", json={"name": "陕西师范大学", "province_code": PROVINCE}), 201)
    teacher = (await ok(await province.post("/v1/teachers", json={
        "name": "王老师", "national_id": national_id(7), "school_code": SCHOOL, "subject": "语文", "stage": "小学",
        "title": "一级教师", "hired_on": "2010-09-01"}), 201))["id"]
    pid = (await ok(await province.post("/v1/projects", json={
        "code": "SN2023-TR-01", "name": "省培 小学语文骨干教师培训", "level": "provincial", "category": "骨干教师培训",
        "year": 2023, "host_id": host, "organizer_code": PROVINCE, "hours": 30, "hour_category": "centralized",
        "starts_on": "2023-07-10", "ends_on": "2023-07-14", "practical_ratio": 0.5,
        "modules": [{"name": "师德第一课", "hours": 6, "kind": "ethics"},
                    {"name": "课堂实践", "hours": 24, "practical": True}]}), 201))["id"]
    for action in ("submit-plan", "approve"):
        await ok(await province.post(f"/v1/projects/{pid}/{action}"))
    await ok(await province.put(f"/v1/projects/{pid}/quotas/{COUNTY}", json={"places": 1}))
    await ok(await province.post(f"/v1/projects/{pid}/open"))
    today["d"] = date(2023, 7, 1)
    eid = (await ok(await as_role("county_admin", COUNTY).post(
        f"/v1/projects/{pid}/nominations", json={"teacher_id": teacher, "region_code": COUNTY}), 201))["enrollment_id"]
    today["d"] = date(2023, 7, 10)
    hostc = as_role("host", host)
    await ok(await hostc.post(f"/v1/enrollments/{eid}/check-in"))
    await ok(await province.post(f"/v1/projects/{pid}/start"))
    today["d"] = date(2023, 7, 14)
    return eid, hostc


def parent_of(span: ReadableSpan, spans: list[ReadableSpan]) -> ReadableSpan | None:
    by_id = {s.context.span_id: s for s in spans}
    return by_id.get(span.parent.span_id) if span.parent else None


async def test_an_enrollment_completion_is_one_trace_into_credits_and_reporting(apps, exporter, keys_dir):
    enrollment, _credits, _reporting = apps
    eid, host = await completed_enrollment(enrollment, keys_dir)
    await ok(await host.post(f"/v1/enrollments/{eid}/complete"))
    [server] = [s for s in exporter.get_finished_spans() if s.parent is None
                and s.attributes.get("http.route") == "/v1/enrollments/{enrollment_id}/complete"]
    trace_id = server.context.trace_id
    wanted = ("apply credits_intake EnrollmentCompleted", "apply reporting_enrollments EnrollmentCompleted",
              "apply credits_compliance HoursAwarded")

    def in_trace() -> list[ReadableSpan]:
        return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]

    async def arrived() -> bool:
        names = {s.name for s in in_trace()}
        return all(w in names for w in wanted)

    await eventually(arrived, message=f"{wanted} in the command's trace")
    spans = in_trace()
    named = {s.name: s for s in spans}
    # Enrollment's relay published the completion as a child of the command …
    publish = named["publish EnrollmentCompleted"]
    # … and both consumers continued from the NATS headers, i.e. from that publish span.
    for projection in ("credits_intake", "reporting_enrollments"):
        apply = named[f"apply {projection} EnrollmentCompleted"]
        assert apply.parent.span_id == publish.context.span_id, projection
    # The award credits records while applying is published under the intake's apply span, so the
    # projection that follows the credits stream sits at the end of one chain rooted at the HTTP
    # request (reporting asks credits' published read model rather than following its stream).
    award = named["publish HoursAwarded"]
    assert parent_of(award, spans) is named["apply credits_intake EnrollmentCompleted"]
    chain, span = [], named["apply credits_compliance HoursAwarded"]
    while span is not None:
        chain.append(span.name)
        span = parent_of(span, spans)
    assert chain[:4] == ["apply credits_compliance HoursAwarded", "publish HoursAwarded",
                         "apply credits_intake EnrollmentCompleted", "publish EnrollmentCompleted"]
    assert chain[-1] == server.name
