"""The rows of an uploaded CSV file, read the one way the imports read them (pure: stdlib only,
so a service's domain/ may use it).

Headings are matched as a spreadsheet spells them (stripped, any case, a stray BOM), through the
import's own map of names to columns; blank lines are skipped; each row keeps its line in the file
(the last, when a quoted cell spans lines), which is what per-row errors name. A file that is not CSV, names
a column twice, or holds more rows than the import takes is refused whole (422 `bad_csv`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from .refusal import Refused

Cells = dict[str, str]


def csv_rows(text: str, headings: Mapping[str, str], max_rows: int) -> tuple[set[str], list[tuple[int, Cells]]]:
    """(the columns the header row names, [(line, {column: cell, stripped})]); headings the map does
    not know are ignored with their cells."""
    reader = csv.reader(io.StringIO(text))
    try:
        columns = [headings.get(h.lstrip("\ufeff").strip().lower()) for h in next(reader, [])]
        named = [c for c in columns if c]
        if len(named) != len(set(named)):
            raise Refused("bad_csv", "a column is named twice", 422)
        rows: list[tuple[int, Cells]] = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= max_rows:
                raise Refused("bad_csv", f"at most {max_rows} rows per import", 422)
            rows.append((reader.line_num, {c: v.strip() for c, v in zip(columns, values, strict=False) if c}))
    except csv.Error as exc:  # e.g. a cell past csv.field_size_limit() (128 KiB)
        raise Refused("bad_csv", f"malformed CSV near line {reader.line_num}: {exc}", 422) from None
    return set(named), rows
