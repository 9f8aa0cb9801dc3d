"""Where a command's CPU goes: `make bench-profile`'s summary of what Stack.sampling recorded.

For each profiled closed-loop figure (baseline, nominate, check-in, attendance) the directory holds
py-spy's flame graph (`name`.svg, open it in a browser), its raw stacks (`name`.txt) and the
service's statement table (`name`-sql.json, shared/sqlprofile.py). This module turns them into
breakdown.md:

- CPU by layer: each sample goes to the layer of its innermost frame that belongs to one (scanning
  from the leaf towards the root), so a sample inside asyncpg called by a handler counts as SQL,
  one inside pydantic called by FastAPI as validation. Idle samples are not recorded (py-spy
  drops them), so the shares are of the CPU the process spent.
- Stages, inclusive: the share of samples whose stack passes through a stage (the command's unit
  of work, authentication, the tracing middleware, …); stages overlap.
- Statements: every round trip per request, in the order of their total time, with the mean
  client-side time (send to answer, so under load it includes queueing).
- PostgreSQL's own time (pg_stat_statements, loaded by bench/stack.py under --profile): execution
  and planning per statement, and how often it was planned per call — a prepared statement
  PostgreSQL plans on every call (plan_cache_mode auto judging a custom plan cheaper) shows 1.00.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import orjson

# (layer, path fragments). Checked in this order on each frame, from the leaf towards the root.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("SQL: asyncpg client (encode, send, decode)", ("/asyncpg/",)),
    ("JSON: orjson / json", ("/orjson", "/json/")),
    ("validation: pydantic", ("/pydantic/", "/pydantic_core/", "/fastapi/_compat")),
    ("auth: JWT verify", ("/jwt/", "/cryptography/", "/shared/auth.py")),
    ("telemetry: tracing (OpenTelemetry)", ("/opentelemetry/",)),
    ("telemetry: metrics (Prometheus)", ("/prometheus_client/", "/shared/telemetry.py")),
    ("logging", ("/logging/", "/pythonjsonlogger/")),
    ("FastAPI routing and dependencies", ("/fastapi/",)),
    ("Starlette middleware and request", ("/starlette/", "/shared/limits.py", "/shared/problems.py")),
    ("HTTP server (uvicorn, httptools)", ("/uvicorn/", "/httptools/")),
    ("NATS client", ("/nats/",)),
    ("domain (pure rules)", ("/domain/",)),
    ("handlers and routes", ("/services/",)),
    ("kernel: unit of work, event store, inline projections", ("/shared/",)),
    ("event loop (asyncio, uvloop)", ("/asyncio/", "/uvloop/")),
]
OTHER = "other (stdlib, uuid, hashing, …)"
# Stages, inclusive: (label, a regex one of the sample's frames must match).
STAGES: list[tuple[str, str]] = [
    ("the command's unit of work (CommandContext.run: transaction, handler, append, projections)",
     r"\(.*/shared/unit_of_work\.py"),
    ("  of which: the handler (facts query and decide)", r"\(.*/services/[^/]+/handlers/"),
    ("  of which: append and inline projections (project_and_append)", r"^project_and_append "),
    ("the relay publishing the events to JetStream (same process)", r"\(.*/shared/relay\.py"),
    ("authentication (current_principal, JWT)", r"^current_principal |\(.*/shared/auth\.py"),
    ("request body parsing and validation (FastAPI)", r"^(request_body_to_args|_validate_value|validate_python) "),
    ("OpenTelemetry server middleware (only while spans are exported)", r"\(.*/opentelemetry/instrumentation/asgi/"),
    ("Prometheus request metrics", r"\(.*/prometheus_client/"),
    ("response serialisation", r"^(serialize_response|jsonable_encoder|render) "),
]
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def parse_raw(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw format: `root;…;leaf count` per line; frames are `function (file:line)`."""
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, n = line.rpartition(" ")
        if frames and n.isdigit():
            stacks.append((frames.split(";"), int(n)))
    return stacks


def layer_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        m = FRAME.match(frame)
        file = m["file"] if m else frame
        for layer, parts in LAYERS:
            if any(p in file for p in parts):
                return layer
    return OTHER


def server_table(pg: list[dict], requests: int) -> list[str]:
    """PostgreSQL's own time per request, by statement (pg_stat_statements over the figure's run):
    execution and planning, and how often a statement was planned per call (1.00: on every call)."""
    if not pg:
        return []
    per = max(requests, 1)
    total = sum(r["exec_ms"] + r["plan_ms"] for r in pg) / per
    out = ["", f"PostgreSQL, its own time: {1000 * total:.0f} µs per request (execution + planning, "
               "pg_stat_statements; locks waited on count as execution).", "",
           "| statement | calls per request | execution µs per call | planning µs per call | planned per call |",
           "|---|---|---|---|---|"]
    for r in pg[:12]:
        text = r["statement"] if len(r["statement"]) <= 110 else r["statement"][:107] + "…"
        calls = max(r["calls"], 1)
        out.append(f"| `{text.replace('|', '¦')}` | {r['calls'] / per:.2f} | {1000 * r['exec_ms'] / calls:.0f} | "
                   f"{1000 * r['plan_ms'] / calls:.0f} | {r['plans'] / calls:.2f} |")
    return out


def summarise(name: str, stacks: list[tuple[list[str], int]], sql: list[dict], requests: int,
              pg: list[dict] | None = None) -> list[str]:
    total = sum(n for _, n in stacks) or 1
    layers: Counter[str] = Counter()
    for frames, n in stacks:
        layers[layer_of(frames)] += n
    out = [f"### {name}", "", f"{total:,} samples at 100 Hz over {requests:,} requests.", "",
           "| layer (innermost frame) | share of CPU |", "|---|---|"]
    out += [f"| {layer} | {n / total:.1%} |" for layer, n in layers.most_common()]
    stages = [(label, sum(n for frames, n in stacks if any(re.search(rx, f) for f in frames)))
              for label, rx in STAGES]
    out += ["", "| stage (inclusive; stages overlap) | share of CPU |", "|---|---|"]
    out += [f"| {label} | {n / total:.1%} |" for label, n in stages if n]
    if sql:
        per = sum(r["count"] for r in sql) / max(requests, 1)
        out += ["", f"Statements: {per:.1f} round trips per request.", "",
                "| statement | per request | mean ms |", "|---|---|---|"]
        for r in sql[:15]:
            text = r["statement"] if len(r["statement"]) <= 110 else r["statement"][:107] + "…"
            out.append(f"| `{text.replace('|', '¦')}` | {r['count'] / max(requests, 1):.2f} | "
                       f"{1000 * r['seconds'] / max(r['count'], 1):.2f} |")
    out += server_table(pg or [], requests)
    return [*out, ""]


def write_breakdown(directory: Path, names: list[str], requests: int) -> Path:
    lines = ["# Where a command's CPU goes (make bench-profile)", "",
             "Flame graphs: the `.svg` files beside this one. How to read the tables: bench/profile.py.", ""]
    for name in names:
        raw = directory / f"{name}.txt"
        if not raw.exists():
            continue
        sql_file = directory / f"{name}-sql.json"
        sql = orjson.loads(sql_file.read_bytes()) if sql_file.exists() else []
        pg_file = directory / f"{name}-pg.json"
        pg = orjson.loads(pg_file.read_bytes()) if pg_file.exists() else []
        lines += summarise(name, parse_raw(raw), sql, requests, pg)
    out = directory / "breakdown.md"
    out.write_text("\n".join(lines))
    return out


if __name__ == "__main__":  # python -m bench.profile DIR REQUESTS NAME...
    print(write_breakdown(Path(sys.argv[1]), sys.argv[3:], int(sys.argv[2])).read_text())
