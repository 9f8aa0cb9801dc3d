"""A/B of `bench.run` between this checkout and another revision: the two alternate, round after
round, on the same machine, and the figures are set side by side with their medians.

Why: one run's figures move by a quarter between runs minutes apart (the bare insert 3,193–4,051
req/s in one evening's four runs, docs/benchmarks.md), so a change is judged on absolute figures
of both sides measured alternately, never on one run against an older one. Each side's own
`bench.run` runs from its own checkout (a temporary git worktree for the revision), so each
starts its own services with its own code.

    python -m bench.ab HEAD~1                          # --only command, 2 rounds
    python -m bench.ab 2bb3d5d --rounds 3 --only command,projections

Prints a markdown table; each round's own report stays in --out (default test-output/ab/).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# A row of the summary table, both values with their unit: | nominate | 917 req/s | 4,147 req/s | 0.221 | …
_SUMMARY = re.compile(r"^\| ([^|]+?) \| ([\d,.]+) [a-z/]+ \| ([\d,.]+) [a-z/]+ \| ([\d.]+) \|", re.M)
# A row of the CPU table: | nominate | 0.88 | 0.59 | 1.47 | 5.7 |
_CPU = re.compile(r"^\| (nominate|check-in|attendance|baseline) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| [\d.]+ \|$",
                  re.M)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def figures(report: str) -> dict[str, float]:
    """The figures of one `bench.run` report: each summary row's own value and ratio, and the CPU
    table's milliseconds per request (two decimals, where the summary rounds to one)."""
    out: dict[str, float] = {}
    for name, ours, baseline, ratio in _SUMMARY.findall(report):
        out[name] = _number(ours)
        out[f"{name} (baseline)"] = _number(baseline)
        out[f"{name} (ratio)"] = float(ratio)
    for name, service, postgres, total in _CPU.findall(report):
        out[f"{name} CPU ms: service"] = float(service)
        out[f"{name} CPU ms: PostgreSQL"] = float(postgres)
        out[f"{name} CPU ms: total"] = float(total)
    return out


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def compare(a: list[dict[str, float]], b: list[dict[str, float]], a_name: str, b_name: str) -> str:
    """A markdown table: every figure both sides have, each round's values, the medians, B / A."""
    names = [n for n in a[0] if all(n in r for r in a + b)] if a and b else []
    rounds = max(len(a), len(b))
    head = ["figure", *[f"{side} {i}" for i in range(1, rounds + 1) for side in (a_name, b_name)],
            f"median {a_name}", f"median {b_name}", f"{b_name} / {a_name}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in names:
        cells = []
        for i in range(rounds):
            cells += [_fmt(r[i][name]) if i < len(r) else "" for r in (a, b)]
        ma, mb = statistics.median(r[name] for r in a), statistics.median(r[name] for r in b)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {_fmt(ma)} | {_fmt(mb)} | "
                     + (f"{mb / ma:.3f}" if ma else "—") + " |")
    return "\n".join(lines)


def _run(checkout: Path, only: str, out: Path, smoke: bool) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.run", "--only", only, "--out", str(out), *(["--smoke"] if smoke else [])]
    subprocess.run(command, cwd=checkout, check=True, stdout=subprocess.DEVNULL)
    return figures(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="the revision to compare this checkout's working tree against")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="command", help="bench.run's phases (comma-separated)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "test-output" / "ab")
    parser.add_argument("--smoke", action="store_true", help="bench.run's tiny sizes (tests)")
    args = parser.parse_args()
    args.out = args.out.resolve()  # each side's bench.run runs from its own checkout
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tt-ab-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=REPO_ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        try:
            sides: dict[str, list[dict[str, float]]] = {"base": [], "here": []}
            for i in range(1, args.rounds + 1):
                for side, checkout in (("base", base), ("here", REPO_ROOT)):
                    print(f"round {i}: {side}", file=sys.stderr, flush=True)
                    sides[side].append(_run(checkout, args.only, args.out / f"{side}-{i}.md", args.smoke))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO_ROOT, check=False)
    print(f"`python -m bench.ab {args.base} --rounds {args.rounds} --only {args.only}`: base = {args.base}, "
          "here = this checkout's working tree\n")
    print(compare(sides["base"], sides["here"], "base", "here"))


if __name__ == "__main__":
    main()
