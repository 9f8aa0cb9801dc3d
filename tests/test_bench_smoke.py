"""The benchmark harness at tiny sizes, so it cannot rot. No figure is asserted: speed is
measured by `make bench`, never by a test."""

from __future__ import annotations

import subprocess
import sys

from shared.settings import REPO_ROOT


def test_bench_harness_runs_end_to_end_and_writes_its_table(tmp_path):
    out = tmp_path / "benchmarks.md"
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--out", str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = out.read_text(encoding="utf-8")
    for row in ("| nominate |", "| check-in |"):
        line = next(ln for ln in table.splitlines() if ln.startswith(row))
        assert line.rstrip().endswith("| 0 |"), f"requests failed: {line}"
