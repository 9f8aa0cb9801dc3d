"""Statement counts and times of a service's pool, for `make bench-profile` only.

Off unless TT_SQL_PROFILE names a file. Then every pool connection reports each statement it runs
(asyncpg's query logger: the client-side time from sending it to reading its answer) into one
table by statement text, and SIGUSR1 writes that table to the file as JSON and starts a new one:
the profiler sends it before and after a window it measures, so the file holds that window alone.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg
import orjson

TARGET = os.environ.get("TT_SQL_PROFILE")
_stats: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0])  # text -> [count, seconds]


def _record(q: Any) -> None:  # asyncpg.connection.LoggedQuery
    # A command's first message spells its arguments as literals (shared/unit_of_work.py): one row.
    text = re.sub(r"\(.*", "(…)", q.query) if q.query.startswith("BEGIN; SELECT tt_open_command") else q.query
    row = _stats[" ".join(text.split())]
    row[0] += 1
    row[1] += q.elapsed


def watch(conn: asyncpg.Connection) -> None:
    if TARGET:
        conn.add_query_logger(_record)


def _dump() -> None:
    assert TARGET
    rows = [{"statement": k, "count": int(c), "seconds": s}
            for k, (c, s) in sorted(_stats.items(), key=lambda kv: -kv[1][1])]
    tmp = Path(TARGET + ".tmp")
    tmp.write_bytes(orjson.dumps(rows))
    tmp.replace(TARGET)
    _stats.clear()


def install() -> None:
    """Called once the event loop runs (the service's lifespan)."""
    if TARGET:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _dump)
