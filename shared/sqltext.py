"""Values spelled into SQL text, for the statements a command sends by the simple protocol.

A simple-protocol message may hold several statements (`BEGIN; SELECT …`, `UPDATE …; COMMIT`) and
so saves a round trip, but it takes no parameters: its values travel as literals. Text goes as its
UTF-8 bytes in hex, which nothing in it can end; everything else only in forms that cannot hold a
quote. Anything of another type is refused rather than guessed at.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

_PLACEHOLDER = re.compile(r"\$(\d+)")


def hex_text(value: str) -> str:
    """A text literal that needs no escaping whatever `value` holds: its UTF-8 bytes in hex.
    convert_from's result takes the collation of its `name` argument, "C", and a PL/pgSQL
    function called with it compares in "C" too: tt_open_command then planned its key look-up
    as a sequential scan of idempotency_keys (~1 ms a command at 100k keys). Hence the COLLATE."""
    return f"convert_from(decode('{value.encode().hex()}', 'hex'), 'UTF8') COLLATE \"default\""


def literal(value: object) -> str:
    """`value` as an SQL literal: text (hex, parenthesised so a cast may follow), a UUID, an int,
    a bool or NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, uuid.UUID):
        return f"'{value}'::uuid"
    if isinstance(value, str):
        return f"({hex_text(value)})"
    raise TypeError(f"no SQL literal for a {type(value).__name__}")


def spelled(sql: str, args: Sequence[object]) -> str:
    """`sql` with its placeholders $1, $2, … replaced by literals of `args`. For statements the
    code writes itself (no `$` in their own literals or comments); every argument must be used."""
    used: set[int] = set()

    def one(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if not 1 <= n <= len(args):
            raise ValueError(f"${n} has no argument ({len(args)} given)")
        used.add(n)
        return literal(args[n - 1])

    text = _PLACEHOLDER.sub(one, sql)
    if len(used) != len(args):
        raise ValueError(f"{len(args) - len(used)} argument(s) not used by the statement")
    return text
