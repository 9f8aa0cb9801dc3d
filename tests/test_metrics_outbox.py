"""/metrics during a NATS outage (issue 7): a real enrollment app on its own nats-server process.
While NATS is stopped, commands keep succeeding and the outbox depth and the age of its oldest
row, read from /metrics, rise; when NATS returns they fall back to zero. The other metrics the
runbook names are on the same page."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.devstack import free_port, start_nats
from tests.conftest import client_for, eventually

PROVINCE, CITY, COUNTY = "610000", "610100", "610102"


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple], float]:
    resp = await client.get("/metrics")
    assert resp.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def gauge(samples: dict, name: str, service: str = "enrollment") -> float:
    return samples[(name, (("service", service),))]


async def test_outbox_depth_rises_while_nats_is_stopped_and_falls_after_it_returns(launch, keys_dir, tmp_path):
    port = free_port()
    server = start_nats(tmp_path, port)
    try:
        async with launch("enrollment", nats_url=server.url) as app:
            province = client_for(app, keys_dir, "http://enrollment")("province_admin", PROVINCE)
            for code, kind, parent in [(PROVINCE, "province", None), (CITY, "city", PROVINCE),
                                       (COUNTY, "county", CITY)]:
                resp = await province.put(f"/v1/orgs/{code}", json={"name": code, "kind": kind, "parent_code": parent})
                assert resp.status_code == 201, resp.text

            async def drained() -> bool:
                return gauge(await scrape(province), "tt_outbox_depth") == 0

            await eventually(drained, message="outbox drained while NATS is up")
            server.stop()
            await eventually(lambda: _disconnected(app), message="the service notices NATS is gone")
            for n in range(1, 31):  # commands keep succeeding during the outage
                resp = await province.put(f"/v1/orgs/{COUNTY}{n:03d}",
                                          json={"name": f"第{n}小学", "kind": "school", "parent_code": COUNTY})
                assert resp.status_code == 201, resp.text

            async def backlog() -> bool:
                samples = await scrape(province)
                return gauge(samples, "tt_outbox_depth") >= 30 and gauge(samples, "tt_outbox_oldest_age_seconds") > 0

            await eventually(backlog, message="outbox depth ≥ 30 and a positive oldest age on /metrics")
            server = start_nats(tmp_path, port)

            async def recovered() -> bool:
                samples = await scrape(province)
                return gauge(samples, "tt_outbox_depth") == 0 and gauge(samples, "tt_outbox_oldest_age_seconds") == 0

            await eventually(recovered, timeout=60, message="outbox depth back to 0 after NATS returns")
            samples = await scrape(province)
            published = gauge(samples, "tt_relay_published_total")
            assert published >= 33, "the three orgs before and the thirty during the outage"
            page = (await province.get("/metrics")).text
            for family in ("tt_http_requests_total counter", "tt_http_request_duration_seconds histogram",
                           "tt_relay_publish_errors_total counter", "tt_projection_lag gauge",
                           "tt_dead_letters gauge"):
                assert f"# TYPE {family}" in page, family
            assert samples[("tt_http_requests_total", (("method", "PUT"), ("route", "/v1/orgs/{code}"),
                                                       ("service", "enrollment"), ("status", "201")))] >= 33
    finally:
        server.stop()


async def _disconnected(app) -> bool:
    return not app.state.bus.connected
