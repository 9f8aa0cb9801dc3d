"""bench/ab.py reads the figures of a `bench.run` report and sets two sides' rounds side by side.
Read from docs/benchmarks.md's own block, so a change to the report's tables that the A/B could no
longer read fails here, not in the middle of someone's measurement."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from bench.ab import compare, figures

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def test_the_reports_own_figures_are_read():
    found = figures(DOCS.read_text())
    ratios = [name.removesuffix(" (ratio)") for name in found if name.endswith(" (ratio)")]
    assert len(ratios) >= 15  # the summary's rows with a baseline, and nothing from the other tables
    for name in ratios:  # each row read whole: its ratio is its own value over its baseline's
        ours, baseline, ratio = found[name], found[f"{name} (baseline)"], found[f"{name} (ratio)"]
        shown = ratio * (0.5 / ours + 0.5 / baseline) + 0.001  # the table rounds each value it shows
        assert abs(ours / baseline - ratio) <= shown, name
    for command in ("nominate", "check-in", "attendance"):
        assert found[command] > 100  # req/s, not a figure of the latency or CPU tables
        service, postgres = found[f"{command} CPU ms: service"], found[f"{command} CPU ms: PostgreSQL"]
        assert abs(found[f"{command} CPU ms: total"] - (service + postgres)) <= 0.011  # the table's rounding
    assert found["baseline CPU ms: total"] > 0
    assert any(name.startswith("credits projection apply") for name in found)


def test_two_sides_are_compared_by_their_medians():
    a = [{"nominate": 800.0, "x": 1.0}, {"nominate": 1000.0, "x": 1.0}]
    b = [{"nominate": 990.0, "x": 2.0}, {"nominate": 810.0}]  # a figure missing from one round: left out
    table = compare(a, b, "base", "here").splitlines()
    assert table[0] == "| figure | base 1 | here 1 | base 2 | here 2 | median base | median here | here / base |"
    assert table[2] == "| nominate | 800 | 990 | 1,000 | 810 | 900 | 900 | 1.000 |"
    assert len(table) == 3


def test_a_revision_and_this_checkout_are_run_in_turn():
    """The whole tool at bench.run's smoke sizes, against HEAD: the revision's worktree comes and
    goes, and a relative --out is where both sides' reports land (it once went into the worktree
    and was lost with it)."""
    repo = DOCS.parent.parent
    out = Path("test-output") / f"ab-test-{uuid.uuid4().hex}"  # relative, and new: nothing left from before
    proc = subprocess.run([sys.executable, "-m", "bench.ab", "HEAD", "--rounds", "1", "--only", "peer", "--smoke",
                           "--out", str(out)], cwd=repo, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert sorted(p.name for p in (repo / out).iterdir()) == ["base-1.md", "here-1.md"]
    table = proc.stdout.splitlines()
    assert table[2] == "| figure | base 1 | here 1 | median base | median here | here / base |"
    assert any(line.startswith("| event store append, 1 event/transaction |") for line in table)
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True, check=True)
    assert "tt-ab-" not in worktrees.stdout
    shutil.rmtree(repo / out)
