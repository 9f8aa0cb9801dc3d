"""National ID numbers (GB 11643: 17 digits and a check character) outside the enrollment
roster's vault. DESIGN.md: events carry no personal data, and no error message or log line may
quote a number. Clerks still paste them where they do not belong — a withdrawal reason, a
shifted spreadsheet column, a school code — so two backstops use what is here:

- `NewEvent` refuses data that carries one (`PersonalDataError` → 422 `personal_data`), naming
  the field, never the value: nothing reaches the event store, the outbox or the bus;
- problem details mask any that a message would echo (610102********123X, as the roster shows).

An 18-character run of digits (the last may be X) not touching other digits is taken for a
number, after NFKC folding (full-width digits); the check digit is not required, since a
mistyped number is still someone's.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import orjson

NATIONAL_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


class PersonalDataError(Exception):
    """Data bound for an event carries what looks like a national ID number. The message names
    the fields only."""

    def __init__(self, event_type: str, paths: list[str]) -> None:
        super().__init__(f"{event_type}: {', '.join(paths)} must not carry a national ID number")
        self.event_type, self.paths = event_type, paths


def _folded(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def has_national_id(text: str) -> bool:
    return NATIONAL_ID.search(_folded(text)) is not None


def mask_national_ids(text: str) -> str:
    """The text with every number masked to its first 6 and last 4 characters."""
    if not has_national_id(text):
        return text
    return NATIONAL_ID.sub(lambda m: m[0][:6] + "*" * 8 + m[0][-4:], _folded(text))


# Every ASCII digit to "0", every other byte to " ": a number needs "0" * 17 in the result.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_RUN = b"0" * 17


def may_hold_national_id(value: Any) -> bool:
    """A fast, conservative pre-check for a JSON-like value: False means it holds no number.
    One C-speed serialisation and a byte scan instead of a walk in Python over every string
    (bulk imports build thousands of events per request, a projection hundreds per batch): ASCII
    text without a run of 17 digits holds none; anything else gets the regex search."""
    try:
        raw = orjson.dumps(value)
    except TypeError:  # not plain JSON: let the exact walk decide
        return True
    if raw.isascii() and _RUN not in raw.translate(_DIGITS_ONLY):
        return False
    return has_national_id(raw.decode())


def paths_with_national_ids(value: Any, path: str = "") -> list[str]:
    """Where in a JSON-like value (dicts, lists, strings) a number appears, as dotted paths."""
    if isinstance(value, str):
        return [path or "."] if has_national_id(value) else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in paths_with_national_ids(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in paths_with_national_ids(v, f"{path}[{i}]")]
    return []


def mask_in(value: Any) -> Any:
    """A JSON-like value with every number in its strings masked."""
    if isinstance(value, str):
        return mask_national_ids(value)
    if isinstance(value, dict):
        return {k: mask_in(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_in(v) for v in value]
    return value
