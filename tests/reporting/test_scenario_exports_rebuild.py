"""Acceptance 1 (exports) and 2 (rebuild, redelivery) on the scenario of tests/reporting/scenario.py.

The CSV and the XLSX, read back (the XLSX with openpyxl), hold the JSON's figures under Chinese
headers. Then every read model is rebuilt from position 0 — from enrollment's /v1/events feed and
from its JetStream stream — and every event is delivered a second time over NATS: each report
stays byte-for-byte the same."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import httpx
import openpyxl
import orjson

from services.reporting.api.exports import COLUMNS
from shared.devkeys import mint_token
from shared.envelope import Envelope
from tests.conftest import eventually
from tests.reporting.given import ok
from tests.reporting.scenario import C1, CITY, PROVINCE

HEADERS = ["分组", "编码", "名称", "指标名额", "报送人数", "报到人数", "结业人数", "不予结业人数", "未报到人数",
           "退出人数", "换人次数", "评价人数", "满意人数", "选送率", "报到率", "结业率", "满意率"]


def expected_rows(doc: dict, group: str) -> list[list[str]]:
    """The JSON's rows as the exports must show them (all text, undefined rate → empty cell)."""
    total = {"group": "合计", "key": "", "label": "合计", **doc["total"]}
    rows = [{"group": group, **i} for i in doc["items"]] + [total]
    return [["" if r[f] is None else str(r[f]) for _, f in COLUMNS] for r in rows]


def xlsx_row(row: list[str]) -> list:
    """What openpyxl reads back for a row: counts as int, rates as numbers, empty cells as None."""
    out: list = row[:3] + [int(v) for v in row[3:13]] + [None if v == "" else float(Decimal(v)) for v in row[13:]]
    return [None if v == "" and i < 3 else v for i, v in enumerate(out)]


async def test_csv_and_xlsx_hold_the_json_figures_under_chinese_headers(world, as_role):
    city = as_role("city_admin", CITY)
    for group, label in (("project", "项目"), ("region", "地区"), ("level", "项目级别")):
        params = {"year": 2023, "group_by": group}
        doc = await ok(await city.get("/v1/reports/rates", params=params))
        want = expected_rows(doc, label)
        resp = await city.get("/v1/reports/rates.csv", params=params)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
        assert resp.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese headers
        rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
        assert rows[0] == HEADERS and rows[1:] == want
        resp = await city.get("/v1/reports/rates.xlsx", params=params)
        assert resp.status_code == 200 and "spreadsheetml" in resp.headers["content-type"]
        sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).worksheets[0]
        cells = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert list(cells[0]) == HEADERS and [list(r) for r in cells[1:]] == [xlsx_row(r) for r in want]
        rate_cells = [sheet.cell(2, col) for col in range(14, 18)]
        assert all(c.number_format == "0.00%" for c in rate_cells)  # shown as percentages
    # The total row of the project grouping, spelled out: the figures of acceptance 1.
    proj = expected_rows(await ok(await city.get("/v1/reports/rates", params={"year": 2023})), "项目")
    assert proj[-1][3:] == ["12", "10", "7", "6", "1", "3", "1", "1", "7", "5", "0.8333", "0.7000", "0.8571", "0.7143"]
    assert proj[2][15:] == ["", ""]  # P3: completion and satisfaction undefined → empty cells


async def reports(world, as_role) -> list:
    province, city = as_role("province_admin", PROVINCE), as_role("city_admin", CITY)
    docs = []
    for group in ("project", "region", "host", "level", "year"):
        docs.append((await province.get("/v1/reports/rates", params={"year": 2023, "group_by": group})).json())
    docs.append((await city.get("/v1/reports/regions", params={"year": 2023})).json())
    docs.append((await province.get("/v1/reports/notices", params={"year": 2023, "min_rate": "0.9"})).json())
    docs.append((await province.get("/v1/reports/hosts", params={"year": 2023})).json())
    for pid in world.projects.values():
        docs.append((await province.get(f"/v1/reports/projects/{pid}")).json())
    docs.append((await as_role("county_admin", C1).get("/v1/reports/rates.csv", params={"year": 2023})).content)
    return docs


async def settled(reporting_app) -> None:
    """Until JetStream has nothing pending or unacknowledged for reporting's consumers."""
    async def check() -> bool:
        for c in reporting_app.state.consumers:
            info = await reporting_app.state.bus.js().consumer_info(reporting_app.state.names.stream(c.source),
                                                                   c.durable)
            if info.num_pending or info.num_ack_pending:
                return False
        return True

    await eventually(check, timeout=60, message="reporting consumers drained")


async def test_figures_survive_a_rebuild_from_position_0_and_a_second_delivery_of_everything(
        world, reporting_app, enrollment_app, as_role, keys_dir):
    before = await reports(world, as_role)
    assert before[0]["total"]["completed"] == 6
    admin = as_role("service")
    reporting_app.state.peer_clients = {"enrollment": httpx.AsyncClient(
        transport=httpx.ASGITransport(app=enrollment_app), base_url="http://enrollment")}
    head = await enrollment_app.state.pool.fetchval("SELECT count(*) FROM events")
    enrollment_models = ["reporting_directory", "reporting_enrollments"]
    done = await ok(await admin.post("/v1/admin/rebuild", json={"source": "feed", "models": enrollment_models}))
    assert done["rebuilt"] == {"reporting_directory": head, "reporting_enrollments": head}
    assert await reports(world, as_role) == before
    done = await ok(await admin.post("/v1/admin/rebuild", json={"source": "stream"}))  # every model
    assert done["rebuilt"] == {"reporting_directory": head, "reporting_enrollments": head, "reporting_funding": 0}
    assert await reports(world, as_role) == before

    # Every event once more, as a broker would redeliver it: a new message id, the same envelope.
    js, names = reporting_app.state.bus.js(), reporting_app.state.names
    events = (await ok(await httpx.AsyncClient(transport=httpx.ASGITransport(app=enrollment_app),
                                               base_url="http://enrollment").get(
        "/v1/events", params={"limit": 5000},
        headers={"Authorization": f"Bearer {mint_token(keys_dir, 'service', sub='t')}"})))["events"]
    assert len(events) == head
    for e in events:
        env = Envelope.from_cloudevent(e)  # the feed's type is the wire's reverse-DNS one; subjects name ours
        await js.publish(names.subject("enrollment", env.category, env.type), orjson.dumps(e),
                         headers={"Nats-Msg-Id": f"again-{e['id']}"})
    await settled(reporting_app)
    assert await reports(world, as_role) == before
    want = {("reporting_directory", "enrollment"): (head, 0), ("reporting_enrollments", "enrollment"): (head, 0),
            ("reporting_funding", "funding"): (0, 0)}

    async def lag_is_zero() -> bool:  # consumers measure their lag between fetches
        lag = await ok(await as_role("county_admin", C1).get("/v1/reports/lag"))
        return {(p["projection"], p["source"]): (p["last_position"], p["lag"]) for p in lag["projections"]} == want

    await eventually(lag_is_zero, message="/v1/reports/lag at the head with nothing pending")
