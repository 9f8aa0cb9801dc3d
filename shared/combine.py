"""A command's writes in one statement: the append and its inline projections' writes as the
data-modifying CTEs of one statement, one round trip instead of one per table.

A command used to send, after its facts: the append (with its idempotency record), then one
statement per read model and guard its events touch — nominate three, check-in three. Each round
trip costs the service ~70 µs of asyncpg and event-loop work and PostgreSQL a protocol exchange
(docs/benchmarks.md, `make bench-profile`). PostgreSQL runs every data-modifying statement in a
WITH list to completion, unreferenced or not, so the writes can ride in the append's statement.

What that changes, and why it is safe only under the checks below: all sub-statements of one
statement see the same snapshot and none sees another's rows. So statements are combined only when
no table one of them writes is named by another (`Write.writes` against `Write.words`, every
identifier of its text: columns too, so the check errs towards not combining). Two writes of one
table (a command recording two events of one enrollment) or a read of a table another writes
(a guard reading the slots a read model inserts) run one statement each, in order, as before.
Only statements whose every part is INSERT, UPDATE or DELETE (or a SELECT that feeds them) are
parsed; anything else — a plain SELECT, a `;`, a comment, dollar quoting — is left alone.

Errors keep their meaning: a guard's unique key or CHECK fails the whole statement with the same
exception (the unit of work runs the command again); the append's version check still answers
the stream's version, and the ConcurrencyError raised on it rolls back the writes that ran beside it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

_HEAD = re.compile(r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([A-Za-z_]\w*)", re.IGNORECASE)
_SELECT = re.compile(r"\s*SELECT\b", re.IGNORECASE)
_CTE = re.compile(r"\s*([A-Za-z_]\w*)\s+AS\s*\(", re.IGNORECASE)
_WITH = re.compile(r"\s*WITH\s+(?!RECURSIVE\b)", re.IGNORECASE)
_TARGETS = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([A-Za-z_]\w*)", re.IGNORECASE)
_WORDS = re.compile(r"[A-Za-z_]\w*")
_PARAM = re.compile(r"\$(\d+)")
_STRING = re.compile(r"'(?:[^']|'')*'")


@dataclass(frozen=True)
class Write:
    """One statement taken apart: its own CTEs and its main statement, what it writes and names."""

    ctes: tuple[tuple[str, str], ...]  # (name, body) in order
    main: str
    writes: frozenset[str]  # tables it inserts into, updates or deletes from (lower case)
    words: frozenset[str]  # every identifier in its text (lower case)

    def clauses(self, offset: int) -> list[str]:
        """Its CTEs and its main statement as CTEs of a combined statement, with its parameters
        renumbered after `offset`; the main one is named after its position by the caller."""
        return [f"{name} AS ({_shift(body, offset)})" for name, body in self.ctes] + [_shift(self.main, offset)]


def _shift(sql: str, offset: int) -> str:
    return _PARAM.sub(lambda m: f"${int(m.group(1)) + offset}", sql) if offset else sql


def _closing(sql: str, start: int) -> int:
    """The index of the parenthesis closing the one just before `start`; -1 if there is none.
    String literals are skipped (a parenthesis in one is text)."""
    depth, i = 1, start
    while i < len(sql):
        ch = sql[i]
        if ch == "'":
            m = _STRING.match(sql, i)
            if m is None:
                return -1
            i = m.end()
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


@lru_cache(maxsize=512)
def parse(sql: str) -> Write | None:
    """`sql` as a Write, or None when it is not one this module combines (see the docstring)."""
    if ";" in sql or "--" in sql or "/*" in sql or "$$" in sql:
        return None
    if any("$" in s for s in _STRING.findall(sql)) or re.search(r"\$(?!\d)", sql):
        return None
    ctes: list[tuple[str, str]] = []
    pos = 0
    if (m := _WITH.match(sql)) is not None:
        pos = m.end()
        while True:
            c = _CTE.match(sql, pos)
            if c is None:
                return None
            end = _closing(sql, c.end())
            if end < 0:
                return None
            body = sql[c.end():end]
            if _HEAD.match(body) is None and _SELECT.match(body) is None:
                return None
            ctes.append((c.group(1).lower(), body.strip()))
            pos = end + 1
            rest = sql[pos:].lstrip()
            if rest.startswith(","):
                pos = len(sql) - len(rest) + 1
                continue
            break
    main = sql[pos:].strip()
    if _HEAD.match(main) is None:
        return None
    text = _STRING.sub("''", sql)
    return Write(tuple(ctes), main, frozenset(t.lower() for t in _TARGETS.findall(text)),
                 frozenset(w.lower() for w in _WORDS.findall(text)))


def independent(writes: Sequence[Write]) -> bool:
    """True when no statement writes a table another names, and none names another's CTE (a CTE
    name would hide a table of that name from the whole statement): then one statement does what
    running them in turn would."""
    for i, w in enumerate(writes):
        mine = w.writes | {name for name, _ in w.ctes}
        for j, other in enumerate(writes):
            if i != j and mine & other.words:
                return False
    return True


def combined(head: str, tail: str, params: int, writes: Sequence[Write], counts: Sequence[int]) -> str:
    """One statement: `head` (a WITH list without the trailing comma), each write's CTEs and main
    statement renumbered to follow the `params` parameters before it (`counts`: how many each
    write takes), then `tail` (the statement's final SELECT)."""
    clauses: list[str] = []
    offset = params
    for k, (w, n) in enumerate(zip(writes, counts, strict=True)):
        *own, main = w.clauses(offset)
        clauses += own
        clauses.append(f"tt_w{k} AS ({main})")
        offset += n
    return f"{head},\n" + ",\n".join(clauses) + f"\n{tail}"
