"""The whole `make bench` harness at tiny sizes (`--smoke`), so none of its figures can rot: every
row of issue 8's table is written, with numbers, and nothing failed. No figure is asserted —
speed is measured by `make bench`, never by a test."""

from __future__ import annotations

import re
import subprocess
import sys

import orjson

from bench.report import BEGIN, END
from shared.settings import REPO_ROOT

ROWS = [
    "roster import", "nominate", "nominate p99 at the same load", "check-in", "check-in p99 at the same load",
    "attendance", "attendance p99 at the same load", "attendance import", "freshness p99 at 40/s offered",
    "freshness p99 at the highest rate sustained", "credits projection apply", "reporting projection apply",
    "credits ledger rebuild", "event store append, 1 event/transaction", "event store append, 5 events/transaction",
]
NUMBER = re.compile(r"^[\d,]+(\.\d+)? (req/s|ms|events/s|rows/s)$")


def test_every_figure_is_measured_with_its_baseline_and_written_between_the_markers(tmp_path):
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\nAnalysis written by hand.\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--out", str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = out.read_text(encoding="utf-8")
    assert "Analysis written by hand." in text  # kept outside the generated block
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    for key in ("cores", "RAM", "Python", "PostgreSQL", "NATS", "python -m bench.run --smoke"):
        assert key in block, key
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] != "figure" and not cells[0].startswith("---"):
            rows[re.sub(r" \(.*\)$", "", cells[0])] = cells
    assert set(ROWS) <= set(rows), set(ROWS) - set(rows)
    for name in ROWS:
        figure, ours, baseline, ratio, target, met, errors = rows[name]
        assert NUMBER.match(ours), (name, ours)
        assert errors == "0", (name, errors)
        assert met in ("yes", "**no**"), (name, met)
        if "freshness" not in name:  # freshness has a target in ms, not a baseline
            assert NUMBER.match(baseline) and re.match(r"^\d+\.\d+$", ratio), (name, baseline, ratio)

    # Each import is shown against its floor (its own writes COPYed, nothing else), measured.
    for heading in ("### Roster import against its floor", "### Attendance import against its floor"):
        section = block.split(heading, 1)[1].split("###", 1)[0]
        floor = next(line for line in section.splitlines() if line.startswith("| floor:"))
        rate = float(floor.split("|")[2].strip().replace(",", ""))
        assert rate > 0, (heading, floor)

    # The commands are shown against their floor: attendance's SQL alone, in both shapes, measured.
    section = block.split("### Commands against their floor", 1)[1].split("###", 1)[0]
    floors = [line for line in section.splitlines() if line.startswith("| floor (")]
    assert len(floors) == 2 and all(float(f.split("|")[2].strip().replace(",", "")) > 0 for f in floors), floors

    # A rerun replaces the block instead of adding a second one.
    again = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--only", "peer", "--out", str(out)],
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-4000:]
    text = out.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1 and "Analysis written by hand." in text


def test_the_profile_writes_each_commands_stacks_statements_and_breakdown(tmp_path):
    """`make bench-profile` at tiny sizes: py-spy's stacks of the service per command, PostgreSQL's
    own statements (pg_stat_statements), and breakdown.md putting them together."""
    profile = tmp_path / "profile"
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--only", "command", "--profile",
                           str(profile), "--out", str(tmp_path / "bench.md")], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    breakdown = (profile / "breakdown.md").read_text(encoding="utf-8")
    for command in ("nominate", "check-in", "attendance"):
        # py-spy's raw stacks: written, though at smoke sizes it may have caught no sample at all
        assert (profile / f"{command}.txt").is_file(), command
        statements = orjson.loads((profile / f"{command}-pg.json").read_bytes())
        assert any("tt_open_command" in s["statement"] for s in statements), command  # the command's first message
        section = breakdown.split(f"### {command}\n", 1)[1].split("\n### ", 1)[0]
        own = re.search(r"PostgreSQL, its own time: (\d+) µs per request", section)
        assert own is not None and int(own.group(1)) > 0, (command, section[:500])
