"""One table of every scenario's figures (test-output/faults/summary.md), written at the end of a
fault session from the scenarios' JSON files: what docs/reliability.md copies."""

from __future__ import annotations

import json
from pathlib import Path

COLUMNS = [  # (heading, key in a scenario's JSON)
    ("offered /s", "rate offered (commands/s)"),
    ("acked /s before the fault", "rate acknowledged before the fault (commands/s)"),
    ("acked /s whole load", "rate acknowledged over the whole load (commands/s)"),
    ("load commands acked", "commands acknowledged (load)"),
    ("acked on a retry", "acknowledged on a retry"),
    ("replayed", "replayed from the idempotency record"),
    ("statuses", "statuses seen"),
    ("latency p50/p99/max s", "latency p50/p99/max (s)"),
    ("converged after load s", "converged after load (s)"),
]


def lost_and_doubled(figures: dict, want_n: int) -> tuple[int, int]:
    """Against n per figure (2n for reporting's A+B, 0 for outboxes): below is lost, above doubled."""
    lost = doubled = 0
    for k, v in figures.items():
        want = 0 if "outbox" in k else 2 * want_n if "(A+B)" in k else 40 if "(burst)" in k else want_n
        lost += max(0, want - v)
        doubled += max(0, v - want)
    return lost, doubled


SCENARIOS = ["kill-enrollment", "kill-credits", "kill-funding", "kill-reporting", "nats-cluster-stopped-30s",
             "nats-node-killed", "nats-node-partitioned", "postgres-stopped-10s"]


def write(folder: Path, since: float) -> Path:
    """The table of the scenarios whose figures were written after `since` (a time.time())."""
    files = {n: folder / f"{n}.json" for n in SCENARIOS}
    names = [n for n, f in files.items() if f.exists() and f.stat().st_mtime >= since]
    rows = ["| scenario | " + " | ".join(h for h, _ in COLUMNS) + " | lost | doubled | stack CPU ms/command |",
            "|---" * (len(COLUMNS) + 4) + "|"]
    for name in names:
        d = json.loads((folder / f"{name}.json").read_text())
        n = d["load commands"] // 4
        lost, doubled = lost_and_doubled(d["figures"], n)
        cells = [json.dumps(d.get(k), ensure_ascii=False).replace("|", "/") for _, k in COLUMNS]
        cpu = d.get("cpu during the load", {}).get("stack cpu ms per command")
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {lost} | {doubled} | {cpu} |")
    out = folder / "summary.md"
    out.write_text("\n".join(rows) + "\n")
    return out
