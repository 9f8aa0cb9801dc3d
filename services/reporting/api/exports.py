"""GET /v1/reports/rates.csv and /v1/reports/rates.xlsx: the rates report for officials.

The same query as GET /v1/reports/rates and the same figures: every group's row (no paging)
and a 合计 (total) row, with Chinese column headers. Rates are the JSON's decimal strings — in
CSV as written, in XLSX as numbers of that exact value shown as percentages; an undefined rate
(zero denominator) is an empty cell. CSV is UTF-8 with a byte-order mark so Excel reads Chinese.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.reporting import report
from services.reporting.api.rates import RATES_DOC, Code, Group, Level, Year, rates_query
from services.reporting.domain.rates import RATES
from shared.auth import Authenticated
from shared.exports import CSV, XLSX, attachment, csv_bytes, download, xlsx_bytes

router = APIRouter(tags=["reports"])
COLUMNS = (  # (header, field)
    ("分组", "group"), ("编码", "key"), ("名称", "label"), ("指标名额", "quota"), ("报送人数", "nominated"),
    ("报到人数", "checked_in"), ("结业人数", "completed"), ("不予结业人数", "failed"), ("未报到人数", "no_show"),
    ("退出人数", "withdrawn"), ("换人次数", "replaced"), ("评价人数", "evaluations"), ("满意人数", "satisfied"),
    ("选送率", "selection_rate"), ("报到率", "check_in_rate"), ("结业率", "completion_rate"),
    ("满意率", "satisfaction_rate"))
NOTES = ("选送率 = 报送人数 ÷ 指标名额;报到率 = 报到人数 ÷ 报送人数;",
         "结业率 = 结业人数 ÷ 报到人数;满意率 = 满意人数 ÷ 评价人数。",
         "换人不另占名额,退出释放名额(不计入报送人数);已撤销项目不计。",
         "分母为0时比率无定义,单元格留空。比率保留4位小数(四舍六入五成双)。")


async def _table(request: Request, principal, year, region_code, level, project_id, group_by
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    q = rates_query(principal, year, region_code, level, project_id, group_by)
    async with request.app.state.pool.acquire() as conn:
        doc = await report.rates(conn, q)
    group = report.GROUP_LABELS[group_by]
    rows = [{"group": group, **item} for item in doc["items"]]
    rows.append({"group": report.GROUP_LABELS["total"], "key": "", "label": "合计", **doc["total"]})
    return doc, rows


def _filename(doc: dict[str, Any], ext: str) -> dict[str, str]:
    parts = ["rates", str(doc["year"] or "all"), doc["region_code"] or "all", doc["group_by"]]
    return attachment("-".join(parts) + f".{ext}", "选送报到结业率")


@router.get("/v1/reports/rates.csv", summary="The rates report as CSV (UTF-8)", description=RATES_DOC,
            **download("text/csv", "CSV, UTF-8 with a byte-order mark"))
async def rates_csv(request: Request, principal: Authenticated, year: Year = None, region_code: Code = None,
                    level: Level | None = None, project_id: uuid.UUID | None = None,
                    group_by: Group = "project") -> Response:
    doc, rows = await _table(request, principal, year, region_code, level, project_id, group_by)
    return Response(csv_bytes(COLUMNS, rows), media_type=CSV, headers=_filename(doc, "csv"))


@router.get("/v1/reports/rates.xlsx", summary="The rates report as an Excel workbook", description=RATES_DOC,
            **download(XLSX, "an Excel workbook"))
async def rates_xlsx(request: Request, principal: Authenticated, year: Year = None, region_code: Code = None,
                     level: Level | None = None, project_id: uuid.UUID | None = None,
                     group_by: Group = "project") -> Response:
    doc, rows = await _table(request, principal, year, region_code, level, project_id, group_by)
    # Rates are the JSON's decimal strings: in the workbook, numbers of that exact value.
    cells = [{**row, **{f: Decimal(row[f]) for f in RATES if row.get(f) is not None}} for row in rows]
    filters = {"项目年度": doc["year"], "地区": doc["region_code"], "项目级别": doc["level"], "项目": doc["project_id"],
               "分组": report.GROUP_LABELS[doc["group_by"]]}
    notes = [[k, "全部" if v is None else v] for k, v in filters.items()] + [[line] for line in NOTES]
    body = xlsx_bytes("选送报到结业率", COLUMNS, cells, formats={f: "0.00%" for f in RATES}, widths={"label": 40},
                      notes=notes)
    return Response(body, media_type=XLSX, headers=_filename(doc, "xlsx"))
