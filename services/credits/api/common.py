"""What several credits routes share: the `as_of` rule of reads, and opaque cursors."""

from __future__ import annotations

from datetime import date

from services.credits.titles import problem
from shared.paging import BAD_CURSOR, cursor_text, page_cursor


def as_of_or_today(as_of: date | None, today: date) -> date:
    if as_of is None:
        return today
    if as_of > today:
        raise problem("as_of_in_future", "as_of cannot be later than today", 422)
    return as_of


def encode_cursor(*parts: str) -> str:
    return page_cursor("\n".join(parts))


def decode_cursor(cursor: str | None, n: int) -> list[str] | None:
    if not cursor:
        return None
    parts = cursor_text(cursor).split("\n")
    if len(parts) != n:
        raise problem("bad_cursor", BAD_CURSOR, 422)
    return parts
