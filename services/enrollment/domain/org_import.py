"""Part of the org tree imported from a spreadsheet (a county's school list, a province's cities
and counties), all or nothing.

Every row is judged by the rule PUT /v1/orgs/{code} applies (orgs.decide_register_org), against
the orgs already registered and the file's own rows: parents before children whatever the rows'
order, so a county and its schools can arrive in one file. A registered org whose row repeats it
changes nothing; a new name renames it. Only the code and the name are needed: the kind and the
parent follow from a GB/T 2260 code's shape, and when the file gives them they must agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.csvrows import csv_rows
from shared.orgs import gbt_parent, kind_of
from shared.refusal import Refused
from shared.text import text_issue

from .orgs import KINDS, Org, decide_register_org

# Headings as a county's spreadsheet spells them, English or Chinese; the same column twice is refused.
COLUMNS = {"code": "code", "机构代码": "code", "代码": "code", "行政区划代码": "code", "学校代码": "code",
           "name": "name", "名称": "name", "机构名称": "name", "学校名称": "name",
           "kind": "kind", "类型": "kind", "机构类型": "kind",
           "parent_code": "parent_code", "上级代码": "parent_code", "上级机构代码": "parent_code"}
KIND_NAMES = {"province": "province", "省": "province", "省级": "province",
              "city": "city", "市": "city", "市级": "city", "地市": "city",
              "county": "county", "县": "county", "区县": "county", "县级": "county",
              "school": "school", "学校": "school"}
MAX_CODE, MAX_NAME = 12, 100  # as PUT /v1/orgs/{code} takes them


@dataclass(frozen=True, slots=True)
class OrgRow:
    line: int
    org: Org


Events = list[tuple[str, dict[str, Any]]]


def read_org_csv(text: str, max_rows: int) -> tuple[list[OrgRow], list[dict[str, Any]]]:
    """The rows of a file and, by line, those that cannot be read as an org. Refused `bad_csv`
    (422) when the file has no code or name column, names a column twice, is not CSV, or holds
    more than `max_rows` rows (shared/csvrows.py)."""
    columns, cells = csv_rows(text, COLUMNS, max_rows)
    missing = {"code", "name"} - columns
    if missing:
        raise Refused("bad_csv", f"missing columns: {', '.join(sorted(missing))} (机构代码, 机构名称)", 422)
    rows: list[OrgRow] = []
    errors: list[dict[str, Any]] = []
    for line, row in cells:
        try:
            rows.append(OrgRow(line, _org(row)))
        except ValueError as exc:
            errors.append({"line": line, "reason": str(exc)})
    return rows, errors


def _org(cells: Mapping[str, str]) -> Org:
    code, name = cells.get("code", ""), cells.get("name", "")
    if not code or len(code) > MAX_CODE or not code.isascii() or not code.isdigit():
        raise ValueError(f"机构代码应为至多{MAX_CODE}位数字 code must be up to {MAX_CODE} digits")
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"机构名称应为1–{MAX_NAME}字 name must be 1–{MAX_NAME} characters")
    if (issue := text_issue(name)) is not None:
        raise ValueError(issue)
    given = cells.get("kind", "")
    kind = KIND_NAMES.get(given.lower()) if given else kind_of(code)
    if kind is None:
        raise ValueError(f"类型应为 kind must be one of {', '.join(KINDS)} (省/市/县/学校)")
    parent = cells.get("parent_code") or gbt_parent(code)
    return Org(code, name, kind, parent)


def decide_org_import(rows: Sequence[OrgRow], registered: Mapping[str, Org],
                      within: Callable[[str], bool]) -> tuple[list[tuple[str, Events]], list[dict[str, Any]]]:
    """(code, events) for each row that changes the tree, and the rows refused, by line.

    `registered`: the orgs the rows name that are registered already, themselves or as parents.
    `within`: whether the caller may register an org at a code (its jurisdiction); a row outside
    it is refused like any other, so the whole file is judged in one go. Rows go province first,
    school last (a parent is always of a higher level), so a parent in the file is judged before
    its children; a child of a refused row is refused as its parent is missing."""
    decided: list[tuple[str, Events]] = []
    refused: list[dict[str, Any]] = []
    in_file: dict[str, Org] = {}
    first_line: dict[str, int] = {}
    for row in sorted(rows, key=lambda r: (KINDS.index(r.org.kind), r.line)):
        org = row.org
        if org.code in first_line:
            refused.append(_refusal(row.line, "duplicate_row", f"{org.code} is also on line {first_line[org.code]}"))
            continue
        first_line[org.code] = row.line
        if not within(org.code):
            refused.append(_refusal(row.line, "out_of_scope", f"org {org.code} is outside this jurisdiction"))
            continue
        parent = in_file.get(org.parent_code or "") or registered.get(org.parent_code or "")
        try:
            events = decide_register_org(registered.get(org.code), org, parent)
        except Refused as r:
            refused.append(_refusal(row.line, r.code, r.message))
            continue
        in_file[org.code] = org
        if events:
            decided.append((org.code, events))
    refused.sort(key=lambda e: e["line"])
    return decided, refused


def _refusal(line: int, code: str, detail: str) -> dict[str, Any]:
    return {"line": line, "code": code, "reason": detail}
