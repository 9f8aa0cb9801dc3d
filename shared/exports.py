"""Exports for officials, written once for every service: CSV and XLSX with Chinese column headers.

- CSV is UTF-8 with a byte-order mark, so Excel reads Chinese; CRLF line ends;
- text a spreadsheet would take for a formula (CSV injection: a name such as =HYPERLINK("…"))
  is written so it opens as the text it is, never runs — in CSV behind a quote, in XLSX as a
  string cell;
- XLSX (XML 1.0) cannot hold control characters: they are dropped from text, so one name recorded
  with one before the services refused them does not fail the whole export;
- an undefined figure (None) is an empty cell;
- the workbook's first sheet has a bold, frozen header row; an optional second sheet, 说明,
  says what the figures mean and which filters made them.
Callers pass rows as dicts and (header, field) columns; what a cell holds is theirs (e.g. a
Decimal for a rate, shown with a number format).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
Columns = Sequence[tuple[str, str]]  # (header, field)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: Any) -> Any:
    """A CSV cell: text that would start a formula behind a quote, anything else as it is."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def xlsx_cell(value: Any) -> Any:
    """An XLSX cell: text without the control characters XML 1.0 cannot hold."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def csv_bytes(columns: Columns, rows: Sequence[Mapping[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([h for h, _ in columns])
    for row in rows:
        writer.writerow(["" if row[f] is None else csv_text(row[f]) for _, f in columns])
    return ("\ufeff" + out.getvalue()).encode()


def xlsx_bytes(title: str, columns: Columns, rows: Sequence[Mapping[str, Any]], *,
               formats: Mapping[str, str] | None = None, widths: Mapping[str, int] | None = None,
               default_width: int = 12, notes: Sequence[Sequence[Any]] = ()) -> bytes:
    """A workbook: sheet `title` with the columns and rows (`formats`: a field's number format,
    e.g. "0.00%"; `widths`: a field's column width), and 说明 with `notes`, one row each."""
    formats, widths = formats or {}, widths or {}
    book = Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append([h for h, _ in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([xlsx_cell(row[f]) for _, f in columns])
        for cell in sheet[sheet.max_row]:
            if cell.data_type == "f":  # openpyxl stores any text starting with "=" as a formula
                cell.data_type = "s"
    for col, (_, field) in enumerate(columns, start=1):
        if field in formats:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=col, max_col=col):
                cell.number_format = formats[field]
        sheet.column_dimensions[sheet.cell(1, col).column_letter].width = widths.get(field, default_width)
    sheet.freeze_panes = "A2"
    if notes:
        sheet_notes = book.create_sheet("说明")
        for line in notes:
            sheet_notes.append([xlsx_cell(v) for v in line])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def attachment(name: str, title: str) -> dict[str, str]:
    """Content-Disposition for a file `name` (ASCII) whose Chinese title prefixes it for browsers
    that read RFC 6266's filename*."""
    return {"Content-Disposition": f"attachment; filename={name}; filename*=UTF-8''{quote(title + '-' + name)}"}


def download(media_type: str, what: str) -> dict[str, Any]:
    """A route's OpenAPI for a file of `media_type`, not JSON (spread into the route decorator)."""
    return {"response_class": Response, "responses": {200: {
        "description": what, "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}}
