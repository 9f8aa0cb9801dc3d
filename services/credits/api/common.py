"""What several credits routes share: the `as_of` rule of reads, and opaque cursors."""

from __future__ import annotations

import base64
import binascii
from datetime import date

from services.credits.titles import problem


def as_of_or_today(as_of: date | None, today: date) -> date:
    if as_of is None:
        return today
    if as_of > today:
        raise problem("as_of_in_future", "as_of cannot be later than today", 422)
    return as_of


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\n".join(parts).encode()).decode()


def decode_cursor(cursor: str | None, n: int) -> list[str] | None:
    if not cursor:
        return None
    try:
        parts = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode().split("\n")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        parts = []
    if len(parts) != n:
        raise problem("bad_cursor", "pass next_cursor back unchanged", 422)
    return parts
