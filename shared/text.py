"""What text a person may type, and the dates we accept, as pure rules (no framework): the
request models of every service (shared/inputs.py) and the domain's own checks of imported rows
apply the same ones.
"""

from __future__ import annotations

import unicodedata
from datetime import date

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_MULTILINE_ALLOWED = frozenset("\t\n\r")


def text_issue(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` is not acceptable text (naming the code point, never the value), or None."""
    if value.isprintable():  # at C speed: every refused category is one str.isprintable refuses
        return None
    for ch in value:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES and not (multiline and ch in _MULTILINE_ALLOWED):
            return f"不能含有控制字符或不可见字符 must not contain control or invisible characters (U+{ord(ch):04X})"
    return None
