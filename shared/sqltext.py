"""Values spelled into SQL text, for the statements a command sends by the simple protocol.

A simple-protocol message may hold several statements (`BEGIN; SELECT …`, `UPDATE …; COMMIT`) and
so saves a round trip, but it takes no parameters: its values travel as literals, to a statement
prepared once per connection (`Prepared`), whose plan is kept. Text goes as its
UTF-8 bytes in hex, which nothing in it can end; everything else only in forms that cannot hold a
quote. Anything of another type is refused rather than guessed at.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence

import asyncpg


def hex_text(value: str) -> str:
    """A text literal that needs no escaping whatever `value` holds: its UTF-8 bytes in hex.
    convert_from's result takes the collation of its `name` argument, "C", and a PL/pgSQL
    function called with it compares in "C" too: tt_open_command then planned its key look-up
    as a sequential scan of idempotency_keys (~1 ms a command at 100k keys). Hence the COLLATE."""
    return f"convert_from(decode('{value.encode().hex()}', 'hex'), 'UTF8') COLLATE \"default\""


def literal(value: object) -> str:
    """`value` as an SQL literal: text (hex, parenthesised so a cast may follow), a UUID, an int,
    a bool, NULL, or a non-empty list of these (an ARRAY; an empty one has no type to read)."""
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
    if isinstance(value, list | tuple) and value:
        return f"ARRAY[{', '.join(literal(v) for v in value)}]"
    raise TypeError(f"no SQL literal for a {type(value).__name__}")


class Prepared:
    """A statement PREPAREd once per connection and then run by name inside a simple-protocol
    message (`BEGIN; EXECUTE …`, `EXECUTE …; COMMIT`). Such a message is otherwise planned anew on
    every call: 14 µs a command for tt_open_command, 53 µs a nomination for its quota row's
    update (pg_stat_statements under `make bench-profile`). A prepared statement keeps its plan.

    `ready` PREPAREs it on a connection that has not got it, by a message of its own: once per
    connection, and outside any message whose failure would leave it unknown whether it ran.
    PostgreSQL keeps a prepared statement for the session whatever becomes of the transaction it
    was prepared in. Pool connections (shared/db.py Connection) remember what they hold; any other
    connection's session is asked (tools and tests). A session that lost them (DEALLOCATE ALL)
    fails the EXECUTE with InvalidSQLStatementNameError; the unit of work then asks the session what
    it still holds and runs the command again (shared/unit_of_work.py).

    EXECUTE's arguments are expressions assigned to the parameters' types, and text has no
    assignment cast to uuid: each value is spelled with an explicit cast to the type PostgreSQL
    inferred for its parameter (read once, from pg_prepared_statements), as the extended
    protocol's binding would have done."""

    __slots__ = ("sql", "name", "_types")

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.name = "tt_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
        self._types: tuple[str, ...] | None = None

    async def ready(self, conn: asyncpg.Connection) -> None:
        held: set[str] | None = getattr(conn, "prepared_names", None)
        if held is None:  # not a pool's connection: ask the session
            if not await conn.fetchval("SELECT 1 FROM pg_prepared_statements WHERE name = $1", self.name):
                await conn.execute(f"PREPARE {self.name} AS {self.sql}")
        elif self.name not in held:
            await conn.execute(f"PREPARE {self.name} AS {self.sql}")
            held.add(self.name)
        if self._types is None:
            types = await conn.fetchval("SELECT parameter_types::text[] FROM pg_prepared_statements"
                                        " WHERE name = $1", self.name)
            self._types = tuple(types)

    def call(self, args: Sequence[object]) -> str:
        """`EXECUTE` of it with `args` spelled as literals: for a connection it is `ready` on."""
        if self._types is None:
            raise RuntimeError(f"{self.name} is not ready on any connection yet")
        if len(args) != len(self._types):
            raise ValueError(f"{self.name} takes {len(self._types)} argument(s), {len(args)} given")
        spelled = ", ".join(f"{literal(a)}::{t}" for a, t in zip(args, self._types, strict=True))
        return f"EXECUTE {self.name}({spelled})" if args else f"EXECUTE {self.name}"
