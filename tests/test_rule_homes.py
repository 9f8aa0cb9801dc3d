"""One home per rule (issue 14, acceptance 1): docs/architecture.md maps every seed-sourced rule to
the one pure function in a service's `domain/` that decides it. This holds the map to the code,
both ways: each function of a `domain/` package whose body cites a seed section ("004 §3.1") is
listed under that section, and each listed function exists and cites it. Module docstrings may
name their sources; only functions decide."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF = re.compile(r"\b\d{3} §\d+(?:\.\d+)*")
ROW = re.compile(r"^\| (?P<rule>[^|]+) \| (?P<source>[^|]+) \| `(?P<site>[^`]+)` \|$")


def mapped() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text.split("<!-- rules -->", 1)[1].split("<!-- /rules -->", 1)[0]
    out: dict[str, set[str]] = defaultdict(set)
    rows = [ROW.match(line) for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    for m in rows[1:]:  # after the header
        assert m, "every row: | rule | source | `services/<svc>/domain/<module>.py:<function>` |"
        for ref in REF.findall(m["source"]):
            out[ref].add(m["site"])
    return out


def cited() -> dict[str, set[str]]:
    """Seed section → the domain functions whose own lines cite it (the innermost function)."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in sorted(ROOT.glob("services/*/domain/**/*.py")):
        src = path.read_text(encoding="utf-8")
        funcs = [n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        for no, line in enumerate(src.splitlines(), start=1):
            around = [f for f in funcs if f.lineno <= no <= (f.end_lineno or f.lineno)]
            if not around:
                continue  # a module or class docstring names sources; it decides nothing
            name = max(around, key=lambda f: f.lineno).name
            for ref in REF.findall(line):
                out[ref].add(f"{path.relative_to(ROOT)}:{name}")
    return out


def test_every_rule_has_its_one_listed_home_and_the_list_is_the_code():
    listed, found = mapped(), cited()
    assert listed, "docs/architecture.md lists no rules"
    for ref in sorted(set(listed) | set(found)):
        assert found.get(ref, set()) == listed.get(ref, set()), (
            f"{ref}: the functions citing it {sorted(found.get(ref, set()))} are not the ones "
            f"docs/architecture.md lists {sorted(listed.get(ref, set()))}")
