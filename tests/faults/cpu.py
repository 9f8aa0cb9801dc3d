"""Where the CPU went during a load: the services, PostgreSQL, the NATS nodes, the route proxy,
the load generator (this process), and everything else on the machine. The fault suite's rate is
bounded by the machine (2 shared cores), so each scenario's figures say what the stack used per
command and what other processes took.

CPU of a process killed during the window is lost with it (the figures cover processes alive at
the end); PostgreSQL's backends that exit are counted through the postmaster's reaped children.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.faults.stack import FaultStack


def _busy(t) -> float:
    return t.user + t.system


def _tree(pid: int, reaped: bool) -> float:
    """CPU seconds of a process and its live descendants; with `reaped`, also the children it has
    waited for (the postmaster reaps its backends)."""
    try:
        p = psutil.Process(pid)
        t = p.cpu_times()
        total = _busy(t) + ((t.children_user + t.children_system) if reaped else 0.0)
        for c in p.children(recursive=True):
            try:
                total += _busy(c.cpu_times())
            except psutil.NoSuchProcess:
                pass
        return total
    except psutil.NoSuchProcess:
        return 0.0


def _machine() -> float:
    """CPU seconds the whole machine has been busy (every process, every core)."""
    t = psutil.cpu_times()
    return t.user + t.system + t.nice + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)


def _postmaster(work: Path) -> int | None:
    for f in work.glob("pg/**/postmaster.pid"):
        try:
            return int(f.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
    return None


def snapshot(stack: FaultStack) -> dict[str, float]:
    s: dict[str, float] = {}
    for name, proc in stack.procs.items():
        s[name] = _tree(proc.pid, reaped=False)
    pm = _postmaster(stack.work)
    s["postgresql"] = _tree(pm, reaped=True) if pm else 0.0
    if stack.nats is not None:
        s["nats (3 nodes)"] = sum(_tree(n.process.pid, reaped=False) for n in stack.nats.nodes
                                  if n.process is not None and n.alive)
        s["route proxy"] = _tree(stack.nats.proxy.pid, reaped=False) if stack.nats.proxy else 0.0
    s["load generator (pytest)"] = _busy(psutil.Process().cpu_times())
    s["machine"] = _machine()
    return s


@dataclass
class CpuMeter:
    stack: FaultStack
    started: float = 0.0
    first: dict[str, float] = field(default_factory=dict)
    at_fault: tuple[float, float] | None = None  # (monotonic, machine CPU seconds) when the fault began

    def start(self) -> None:
        self.started, self.first = time.monotonic(), snapshot(self.stack)

    def fault(self) -> None:
        """Mark the fault: the figures then also say how busy the machine was before it, the window
        whose rate counts where the fault itself holds commands back."""
        self.at_fault = (time.monotonic(), _machine())

    def figures(self, commands: int) -> dict:
        """CPU seconds per part since start(), ms per acknowledged command, and the machine's
        share taken by processes outside the stack (the other users of the 2 cores)."""
        wall = time.monotonic() - self.started
        last = snapshot(self.stack)
        used = {k: round(max(0.0, last[k] - self.first.get(k, 0.0)), 1) for k in last}
        ours = sum(v for k, v in used.items() if k != "machine")
        cores = psutil.cpu_count() or 1
        before = None
        if self.at_fault is not None and self.at_fault[0] > self.started:
            before = round(100 * (self.at_fault[1] - self.first["machine"])
                           / ((self.at_fault[0] - self.started) * cores), 1)
        return {"wall seconds": round(wall, 1), "cores": cores, "cpu seconds": used,
                "stack cpu ms per command": round(1000 * ours / commands, 2) if commands else None,
                "enrollment cpu ms per command": round(1000 * used.get("enrollment", 0) / commands, 2)
                if commands else None,
                "machine busy (% of all cores)": round(100 * used["machine"] / (wall * cores), 1),
                "machine busy before the fault (% of all cores)": before,
                "taken by processes outside the stack (cpu s)": round(max(0.0, used["machine"] - ours), 1)}
