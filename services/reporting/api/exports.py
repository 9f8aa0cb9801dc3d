"""GET /v1/reports/rates.csv and /v1/reports/rates.xlsx: the rates report for officials.

The same query as GET /v1/reports/rates and the same figures: every group's row (no paging)
and a 合计 (total) row, with Chinese column headers. Rates are the JSON's decimal strings — in
CSV as written, in XLSX as numbers of that exact value shown as percentages; an undefined rate
(zero denominator) is an empty cell. CSV is UTF-8 with a byte-order mark so Excel reads Chinese.
"""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from services.reporting import report
from services.reporting.api.rates import RATES_DOC, Code, Group, Level, Year, rates_query
from services.reporting.domain.rates import RATES
from shared.auth import Authenticated

router = APIRouter(tags=["reports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
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
    name = "-".join(parts) + f".{ext}"
    return {"Content-Disposition": f"attachment; filename={name}; filename*=UTF-8''{quote('选送报到结业率-' + name)}"}


def _download(media_type: str, what: str) -> dict[str, Any]:
    """The route's OpenAPI: a file of `media_type`, not JSON."""
    return {"response_class": Response, "responses": {200: {
        "description": what, "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}}


@router.get("/v1/reports/rates.csv", summary="The rates report as CSV (UTF-8)", description=RATES_DOC,
            **_download("text/csv", "CSV, UTF-8 with a byte-order mark"))
async def rates_csv(request: Request, principal: Authenticated, year: Year = None, region_code: Code = None,
                    level: Level | None = None, project_id: uuid.UUID | None = None,
                    group_by: Group = "project") -> Response:
    doc, rows = await _table(request, principal, year, region_code, level, project_id, group_by)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([h for h, _ in COLUMNS])
    for row in rows:
        writer.writerow(["" if row[f] is None else _csv_text(row[f]) for _, f in COLUMNS])
    return Response(("\ufeff" + out.getvalue()).encode(), media_type="text/csv; charset=utf-8",
                    headers=_filename(doc, "csv"))


def _cell(value: Any) -> Any:
    """XLSX (XML 1.0) cannot hold control characters: a name recorded with one before the
    services refused them would otherwise fail the whole export."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


# Text a spreadsheet would take for a formula (CSV injection): a project or org name such as
# =HYPERLINK("http://…") must open in the official's Excel as the text it is, never run.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


@router.get("/v1/reports/rates.xlsx", summary="The rates report as an Excel workbook", description=RATES_DOC,
            **_download(XLSX, "an Excel workbook"))
async def rates_xlsx(request: Request, principal: Authenticated, year: Year = None, region_code: Code = None,
                     level: Level | None = None, project_id: uuid.UUID | None = None,
                     group_by: Group = "project") -> Response:
    doc, rows = await _table(request, principal, year, region_code, level, project_id, group_by)
    book = Workbook()
    sheet = book.active
    sheet.title = "选送报到结业率"
    sheet.append([h for h, _ in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([Decimal(row[f]) if f in RATES and row[f] is not None else _cell(row[f]) for _, f in COLUMNS])
        for cell in sheet[sheet.max_row]:
            if cell.data_type == "f":  # openpyxl stores any text starting with "=" as a formula
                cell.data_type = "s"
    for col, (_, field) in enumerate(COLUMNS, start=1):
        if field in RATES:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=col, max_col=col):
                cell.number_format = "0.00%"
        sheet.column_dimensions[sheet.cell(1, col).column_letter].width = 40 if field == "label" else 12
    sheet.freeze_panes = "A2"
    notes = book.create_sheet("说明")
    filters = {"年度": doc["year"], "地区": doc["region_code"], "项目级别": doc["level"], "项目": doc["project_id"],
               "分组": report.GROUP_LABELS[doc["group_by"]]}
    for k, v in filters.items():
        notes.append([k, "全部" if v is None else v])
    for line in NOTES:
        notes.append([line])
    buf = io.BytesIO()
    book.save(buf)
    return Response(buf.getvalue(), media_type=XLSX, headers=_filename(doc, "xlsx"))
