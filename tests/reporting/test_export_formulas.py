"""CSV/XLSX exports open in an official's Excel: a name that looks like a formula (CSV injection,
=HYPERLINK(…), +cmd|…, @SUM(…)) must arrive as the text it is and never run."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from openpyxl import load_workbook

from tests.reporting.given import Given

PROVINCE = "610000"
NAMES = ['=HYPERLINK("http://evil.example","点击领取学时")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0"]


COUNTIES = ("610102", "610103", "610104")


@pytest.fixture(scope="module")
async def world(rpool):
    """Three counties whose names look like formulas, each with places in one project."""
    given = Given(rpool)
    orgs = [(PROVINCE, "陕西省", "province", None), ("610100", "西安市", "city", PROVINCE),
            *((code, name, "county", "610100") for code, name in zip(COUNTIES, NAMES, strict=True))]
    for code, name, kind, parent in orgs:
        await given(f"org-{code}", ("OrgRegistered", {"code": code, "name": name, "kind": kind, "parent_code": parent}))
    pid = str(uuid.uuid4())
    await given(f"project-{pid}", ("ProjectDrafted", {
        "project_id": pid, "code": "F1", "name": "省培 骨干教师培训", "level": "provincial", "category": "骨干",
        "year": 2024, "host_id": str(uuid.uuid4()), "organizer_code": PROVINCE, "hours": 30,
        "hour_category": "online", "starts_on": "2024-05-06", "ends_on": "2024-05-10", "cross_year": False,
        "practical_ratio": 0.5, "modules": []}),
        *(("QuotaAllocated", {"project_id": pid, "region_code": code, "places": 2}) for code in COUNTIES))


async def test_formula_like_names_are_text_in_csv_and_xlsx(world, as_role):
    admin = as_role("city_admin", "610100")
    params = {"year": 2024, "group_by": "region"}
    resp = await admin.get("/v1/reports/rates.csv", params=params)
    assert resp.status_code == 200, resp.text
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    labels = {r[2] for r in rows[1:]}
    assert {"'" + n for n in NAMES} <= labels, labels  # a leading apostrophe: Excel shows the text
    resp = await admin.get("/v1/reports/rates.xlsx", params=params)
    assert resp.status_code == 200
    sheet = load_workbook(io.BytesIO(resp.content)).active
    by_value = {row[2].value: row[2] for row in sheet.iter_rows(min_row=2)}
    for name in NAMES:
        assert by_value[name].data_type == "s", f"{name!r} must be stored as text, not a formula"
