"""The synthetic-province generator (bench/province.py) at tiny sizes, so it cannot rot. No
figure is asserted: speed is measured by `make bench-province`, never by a test. `make bench`'s
own smoke test is tests/test_bench_harness_smoke.py."""

from __future__ import annotations

import subprocess
import sys

from shared.settings import REPO_ROOT


def test_province_bench_runs_and_rewrites_only_its_section(tmp_path):
    """bench/province.py at 300 teachers, into a copy of docs/scale.md: every phase succeeds and
    catches up, the figures are sane, and the hand-written text around the markers survives."""
    import json

    from bench.province_report import BEGIN, END

    doc = tmp_path / "scale.md"
    real = REPO_ROOT / "docs" / "scale.md"
    doc.write_text(real.read_text(encoding="utf-8") if real.exists() else "# Scale\n\nHand-written.\n",
                   encoding="utf-8")
    before = doc.read_text(encoding="utf-8")
    figures_path = tmp_path / "figures.json"
    proc = subprocess.run([sys.executable, "-m", "bench.province", "--smoke", "--out", str(doc),
                           "--json", str(figures_path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(figures_path.read_text(encoding="utf-8"))
    phases = {p["name"]: p for p in figures["phases"]}
    assert phases["roster import"]["count"] == figures["params"]["teachers"] == 300
    for name in ("org tree", "roster import", "nomination", "check-in", "attendance import", "completion"):
        p = phases[name]
        assert p["errors"] == 0 and p["caught_up"], p
        assert p["count"] > 0 and 0 < p["rate"] < 1e6, p
        assert p["db_delta"] > 0 and p["stream_delta"] > 0, p
        assert 100 < p["stream_delta"] / p["count"] < 100_000, p  # bytes per unit on the bus
    assert phases["completion"]["events_delta"]["credits"] == phases["completion"]["count"]  # one award each
    assert figures["dead_letters"] == 0
    assert all(d["bytes"] > 0 for d in figures["databases"].values())
    text = doc.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert "| roster import | 300 teachers |" in text
    if BEGIN in before:  # outside the markers nothing changed
        assert before.split(BEGIN)[0] == text.split(BEGIN)[0]
        assert before.split(END)[1] == text.split(END)[1]
    else:
        assert text.startswith(before.rstrip())
