"""The teacher roster: checking one teacher's fields (a POST body or a CSV row) and the
TeacherRegistered decider.

The same `check_teacher` runs for the single POST and for every row of an import, so a
spreadsheet row is refused for exactly the reasons an API call would be. Issues come back as
(column, reason) pairs and never quote the national ID number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared.personal import has_national_id
from shared.refusal import Refused
from shared.text import text_issue

from . import national_id
from .orgs import Org

COLUMNS = ("name", "national_id", "school_code", "subject", "stage", "title", "hired_on")
TEXT_COLUMNS = ("name", "school_code", "subject", "stage", "title")


@dataclass(frozen=True)
class RosterRules:
    # 劳动法 §15 / 未成年工特殊保护规定: no employment before 16, so an earlier hiring date means a
    # mistyped date or the wrong person's ID number.
    min_hire_age: int = 16
    max_text: int = 50  # names, subjects and titles are short; longer cells are misaligned columns
    optional: tuple[str, ...] = ("title",)  # new teachers have no 职称 yet (未定级)


DEFAULT_RULES = RosterRules()

# What Excel and WPS write for a date cell in a CSV export: 2020-09-01, 2020/9/1, 2020.9.1,
# 20200901, sometimes with a 00:00:00 time part.
_DATE = re.compile(r"^(\d{4})(?:[-/.年](\d{1,2})[-/.月](\d{1,2})日?|(\d{2})(\d{2}))(?:[ T]0{1,2}:00(?::00)?)?$")


@dataclass(frozen=True, slots=True)
class TeacherRow:
    name: str
    national_id: national_id.NationalId
    school_code: str
    subject: str
    stage: str
    title: str | None
    hired_on: date


def parse_date(text: str) -> date | None:
    m = _DATE.match(text.strip())
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2] or m[4]), int(m[3] or m[5]))
    except ValueError:
        return None


def clean_columns(raws: Sequence[Mapping[str, object]]) -> frozenset[str]:
    """The text columns of a file in which no cell holds a national ID number or a character
    `text_issue` refuses, found with one search of each column's cells joined by spaces instead
    of one per cell (check_teacher then skips those two checks for them). Exact: a space is
    neither a digit nor refused, and nothing folds or composes across it (NFKC), so the joined
    text holds a number or a refused character exactly when one of its cells does; a cell that
    `check_teacher` strips is part of its raw text, so a clean raw column is clean stripped."""
    clean = set()
    for col in TEXT_COLUMNS:
        joined = " ".join("" if (v := r.get(col)) is None else str(v) for r in raws)
        if not has_national_id(joined) and text_issue(joined) is None:
            clean.add(col)
    return frozenset(clean)


def check_teacher(raw: Mapping[str, object], today: date, rules: RosterRules = DEFAULT_RULES, *,
                  clean: frozenset[str] = frozenset()) -> tuple[TeacherRow | None, list[tuple[str, str]]]:
    """Normalise one teacher's fields; returns (row, []) or (None, [(column, reason), ...]).
    `clean`: columns of a whole file already found free of ID numbers and refused characters
    (clean_columns)."""
    issues: list[tuple[str, str]] = []
    text: dict[str, str] = {}
    for col in TEXT_COLUMNS:
        value = raw.get(col)
        value = "" if value is None else str(value).strip()
        if not value and col not in rules.optional:
            issues.append((col, "必填 required"))
        elif len(value) > rules.max_text:
            issues.append((col, f"超过{rules.max_text}字 longer than {rules.max_text} characters"))
        elif col in clean:
            pass
        elif has_national_id(value):  # a shifted column: the number would ride TeacherRegistered
            issues.append((col, "此列不应填写身份证号 a national ID number does not belong in this column"))
        elif (bad := text_issue(value)) is not None:  # ESC, NUL, U+202E ... (shared/text.py)
            issues.append((col, bad))
        text[col] = value
    nid = None
    try:
        nid = national_id.parse(str(raw.get("national_id") or ""), today)
    except national_id.InvalidNationalId as exc:
        issues.append(("national_id", exc.reason))
    hired = raw.get("hired_on")
    hired_on = hired if isinstance(hired, date) else parse_date(str(hired or ""))
    if hired_on is None:
        issues.append(("hired_on", "日期格式应为 YYYY-MM-DD date must be YYYY-MM-DD"))
    elif hired_on > today:
        issues.append(("hired_on", "入职日期晚于今天 hiring date is in the future"))
    elif nid is not None and hired_on < _add_years(nid.birth_date, rules.min_hire_age):
        issues.append(("hired_on", f"入职时未满{rules.min_hire_age}岁 hired before age {rules.min_hire_age}"))
    if issues:
        return None, issues
    assert nid is not None and hired_on is not None
    return TeacherRow(text["name"], nid, text["school_code"], text["subject"], text["stage"],
                      text["title"] or None, hired_on), []


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def school_issue(school: Org | None) -> str | None:
    if school is None or school.kind != "school":
        return "学校未登记 school is not registered"
    return None


def evolve_teacher(state: dict[str, Any] | None, event_type: str, data: dict[str, Any]) -> dict[str, Any] | None:
    if event_type == "TeacherRegistered":
        return dict(data)
    return state


def decide_register_teacher(state: dict[str, Any] | None, teacher_id: str, row: TeacherRow,
                            school: Org | None) -> list[tuple[str, dict[str, Any]]]:
    if state is not None:
        raise Refused("teacher_exists", f"teacher {teacher_id} is already registered")
    if (reason := school_issue(school)) is not None:
        raise Refused("school_not_found", f"{row.school_code}: {reason}", 422)
    # Internal ids and work facts only: the name and the ID number stay in the roster's vault.
    return [("TeacherRegistered", {
        "teacher_id": teacher_id, "school_code": row.school_code, "subject": row.subject,
        "stage": row.stage, "title": row.title, "hired_on": row.hired_on.isoformat(),
    })]


def check_new_people(claimed: int, people: int) -> None:
    """A person is on the roster once, named by their national ID number: `claimed` of `people`
    were not registered yet (pii.claim_identities, race-free by its unique hash)."""
    if claimed != people:
        raise Refused("teacher_exists", "a teacher with this national ID number is already registered")


# A county official's export names the columns in Chinese; integrators use the API names.
HEADER_ALIASES = {
    "name": ("name", "姓名"),
    "national_id": ("national_id", "身份证号", "身份证号码", "公民身份号码"),
    "school_code": ("school_code", "学校代码"),
    "subject": ("subject", "学科", "任教学科"),
    "stage": ("stage", "学段", "任教学段"),
    "title": ("title", "职称"),
    "hired_on": ("hired_on", "入职日期"),
}
_ALIAS_TO_FIELD = {alias.lower(): f for f, aliases in HEADER_ALIASES.items() for alias in aliases}
NOT_UTF8 = ("文件不是 UTF-8 编码（可能是 GBK），请在 Excel/WPS 中“另存为 CSV UTF-8” "
            "The file is not UTF-8 (GBK?); save it as “CSV UTF-8”")


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int  # as the spreadsheet shows it: the header is line 1
    values: dict[str, str]


def read_roster_csv(data: bytes, max_rows: int, rules: RosterRules = DEFAULT_RULES
                    ) -> tuple[dict[str, str], list[CsvRow]]:
    """(field → column heading as written, data rows). File-level faults raise Refused (422/413)."""
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError:
        raise Refused("csv_not_utf8", NOT_UTF8, 422) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise Refused("csv_empty", "文件为空 the file is empty", 422)
        columns: dict[str, int] = {}
        headings: dict[str, str] = {}
        for idx, heading in enumerate(header):
            fld = _ALIAS_TO_FIELD.get(heading.strip().lower())
            if fld is None:
                continue  # 序号, 备注 and other columns of the official's sheet are ignored
            if fld in columns:
                raise Refused("csv_bad_header", f"列重复 column {heading.strip()} appears twice", 422)
            columns[fld], headings[fld] = idx, heading.strip()
        missing = [f for f in HEADER_ALIASES if f not in columns and f not in rules.optional]
        if missing:
            wanted = ", ".join("/".join(HEADER_ALIASES[f]) for f in missing)
            raise Refused("csv_bad_header", f"缺少列 missing columns: {wanted}", 422)
        rows: list[CsvRow] = []
        # Records, not physical lines: a quoted cell with a line break is still one sheet row.
        for line, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue  # blank rows at the end of an export
            if len(rows) >= max_rows:
                raise Refused("csv_too_many_rows", f"每次最多导入{max_rows}行 at most {max_rows} rows per file", 413)
            rows.append(CsvRow(line, {f: cells[i] if i < len(cells) else "" for f, i in columns.items()}))
    except csv.Error as exc:
        raise Refused("csv_malformed", f"CSV 格式错误 malformed CSV near line {reader.line_num}: {exc}", 422) from None
    if not rows:
        raise Refused("csv_empty", "没有数据行 the file has a header but no rows", 422)
    return headings, rows
