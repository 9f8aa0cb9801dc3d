"""Many rows into a table through COPY, for bulk handlers (rebuilds, imports): PostgreSQL parses
the text format itself, so no array of every column is built, encoded and unnested per statement.
The effect is the INSERT's: the same defaults, constraints and errors (a duplicate key still
raises UniqueViolationError, inside the caller's transaction)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

# COPY's text format: backslash escapes, tab between columns, newline between rows, \N for NULL.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_ESCAPES) if ("\\" in value or "\t" in value or "\n" in value or "\r" in value) \
            else value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict | list):  # json / jsonb
        return orjson.dumps(value).decode().translate(_ESCAPES)
    return str(value).translate(_ESCAPES)


def copy_text(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows in COPY's text format."""
    return "".join("\t".join(map(_field, row)) + "\n" for row in rows).encode()


async def copy_rows(conn: asyncpg.Connection, table: str, columns: Sequence[str],
                    rows: Iterable[Sequence[Any]]) -> None:
    await conn.copy_to_table(table, source=io.BytesIO(copy_text(rows)), columns=list(columns), format="text")
