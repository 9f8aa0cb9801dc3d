"""A roster file checked as a whole (POST /v1/teachers/import): every row as a single
registration would be (roster.check_teacher), each person once in the file and once on the
roster, each school registered and in the importer's jurisdiction. All or nothing: any issue
refuses the file, and every issue is reported with its line and column as the sheet names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from . import national_id
from .orgs import Org
from .roster import CsvRow, TeacherRow, check_teacher, clean_columns, school_issue


@dataclass
class RosterCheck:
    headings: dict[str, str]  # field → the column heading as the file wrote it
    good: list[tuple[int, TeacherRow]] = field(default_factory=list)  # (line, row) of the valid rows
    keys: dict[bytes, int] = field(default_factory=dict)  # look-up hash of a national ID → its first line
    good_keys: list[bytes] = field(default_factory=list)  # the look-up hash of each valid row, as `good`
    schools: list[tuple[int, str]] = field(default_factory=list)  # (line, school code) to look up
    issues: list[dict[str, Any]] = field(default_factory=list)

    def issue(self, line: int, fld: str, reason: str) -> None:
        self.issues.append({"line": line, "column": self.headings.get(fld, fld), "field": fld, "reason": reason})


def check_rows(headings: dict[str, str], rows: list[CsvRow], today: date,
               lookup: Callable[[str], bytes]) -> RosterCheck:
    """Each row on its own, and duplicates within the file (by `lookup`, the keyed hash)."""
    check = RosterCheck(headings)
    clean = clean_columns([r.values for r in rows])
    for csv_row in rows:
        row, row_issues = check_teacher(csv_row.values, today, clean=clean)
        for fld, reason in row_issues:
            check.issue(csv_row.line, fld, reason)
        bad = {fld for fld, _ in row_issues}
        if "school_code" not in bad:
            check.schools.append((csv_row.line, csv_row.values["school_code"].strip()))
        if "national_id" not in bad:
            key = lookup(row.national_id.number if row is not None
                         else national_id.normalise(csv_row.values["national_id"]))
            if key in check.keys:
                first = check.keys[key]
                check.issue(csv_row.line, "national_id", f"与第{first}行重复 duplicate of line {first}")
                continue
            check.keys[key] = csv_row.line
        if row is not None:  # a valid row's national ID is valid: its key was taken above
            check.good.append((csv_row.line, row))
            check.good_keys.append(key)
    return check


def check_facts(check: RosterCheck, schools: Mapping[str, Org], registered: Iterable[bytes],
                in_scope: Callable[[str], bool]) -> list[dict[str, Any]]:
    """The rows against the registered schools and roster; every issue of the file, by line."""
    for line, code in check.schools:
        if (reason := school_issue(schools.get(code))) is not None:
            check.issue(line, "school_code", reason)
        elif not in_scope(code):
            check.issue(line, "school_code", "学校不在管辖范围内 school is outside your jurisdiction")
    for key in registered:
        check.issue(check.keys[key], "national_id", "该教师已登记 teacher is already registered")
    return sorted(check.issues, key=lambda i: (i["line"], i["field"]))
