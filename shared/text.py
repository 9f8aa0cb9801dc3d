"""The `Text` rule of shared/inputs.py as a pure function (stdlib only), so a service's domain/,
which imports no pydantic, checks the values that do not arrive through a model with it (the
rows of an imported spreadsheet). See shared/inputs.py for what is refused and why."""

from __future__ import annotations

import unicodedata

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_MULTILINE_ALLOWED = frozenset("\t\n\r")


def text_issue(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` is not acceptable text (naming the code point, never the value), or None."""
    for ch in value:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES and not (multiline and ch in _MULTILINE_ALLOWED):
            return f"不能含有控制字符或不可见字符 must not contain control or invisible characters (U+{ord(ch):04X})"
    return None
