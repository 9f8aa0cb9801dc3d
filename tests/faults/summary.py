"""One table of every scenario's figures (test-output/faults/summary.md), written at the end of a
fault session from the scenarios' JSON files: what docs/reliability.md copies."""

from __future__ import annotations

import json
from pathlib import Path

SCENARIOS = ["kill-enrollment", "kill-credits", "kill-funding", "kill-reporting", "nats-cluster-stopped-30s",
             "nats-node-killed", "nats-node-partitioned", "postgres-stopped-10s"]
HEAD = ("| scenario | offered /s | acked /s before the fault | acked /s whole load | load commands acked "
        "| 503s | no answer | acked on a retry | back (s) | converged after load (s) | lost | doubled | outbox left "
        "| stack CPU ms/command | CPU s taken by other processes |")


def lost_and_doubled(figures: dict, n: int, burst: int) -> tuple[int, int, int]:
    """Against what each figure must be (n; 2n for reporting's A+B; the burst's size for its
    records): a shortfall is lost (or not delivered yet at the deadline), an excess doubled. The
    third number is the rows still in the outboxes (unpublished, neither lost nor doubled)."""
    lost = doubled = outbox = 0
    for k, v in figures.items():
        if "outbox" in k:
            outbox += v
            continue
        want = 2 * n if "(A+B)" in k else burst if "(burst)" in k else n
        lost += max(0, want - v)
        doubled += max(0, v - want)
    return lost, doubled, outbox


def back(d: dict) -> object:
    """How long the failed piece took to serve again once restarted or healed."""
    for key in ("ready after restart (s)", "outbox drained after NATS restart (s)",
                "cluster healthy after the node came back (s)"):
        if key in d:
            return d[key]
    if "ready again after restart (s)" in d:
        return max(d["ready again after restart (s)"].values())
    return None


def row(name: str, d: dict) -> str:
    statuses = d["statuses seen"]
    burst = d.get("burst", {})
    lost, doubled, outbox = lost_and_doubled(d["figures"], d["load commands"] // 4, burst.get("commands", 0))
    cpu = d.get("cpu during the load", {})
    cells = [name, d["rate offered (commands/s)"], d["rate acknowledged before the fault (commands/s)"],
             d["rate acknowledged over the whole load (commands/s)"], d["commands acknowledged (load)"],
             statuses.get("503", 0) + burst.get("statuses seen", {}).get("503", 0),
             statuses.get("conn", 0) + burst.get("statuses seen", {}).get("conn", 0),
             d["acknowledged on a retry"] + burst.get("acknowledged on a retry", 0), back(d),
             d.get("converged after load (s)"), lost, doubled, outbox, cpu.get("stack cpu ms per command"),
             cpu.get("taken by processes outside the stack (cpu s)")]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def write(folder: Path, since: float) -> Path:
    """The table of the scenarios whose figures were written after `since` (a time.time())."""
    files = {n: folder / f"{n}.json" for n in SCENARIOS}
    rows = [HEAD, "|---" * HEAD.count(" | ") + "|---|"]
    rows += [row(n, json.loads(f.read_text())) for n, f in files.items() if f.exists() and f.stat().st_mtime >= since]
    out = folder / "summary.md"
    out.write_text("\n".join(rows) + "\n")
    return out
