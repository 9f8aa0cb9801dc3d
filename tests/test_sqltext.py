"""shared/sqltext.py: values spelled into the simple-protocol statements a command sends with its
BEGIN and its COMMIT. Each literal must read back in PostgreSQL as exactly the value it spells,
whatever a text holds; a statement must use every argument, and nothing else is guessed at."""

from __future__ import annotations

import uuid

import pytest

from shared.sqltext import literal, spelled

AWKWARD = ["", "'", "''; DROP TABLE events; --", "\\", "$1", "报到 第1期", "a\nb\tc", "\u00e9\u0301", "😀", "x" * 5000]


@pytest.mark.parametrize("value", AWKWARD, ids=range(len(AWKWARD)))
async def test_a_text_reads_back_as_itself_and_can_be_cast(pool, value):
    assert await pool.fetchval(f"SELECT {literal(value)}") == value
    assert await pool.fetchval(f"SELECT {literal(value)} = $1", value) is True  # compared in the default collation


async def test_other_values_read_back_as_themselves(pool):
    u = uuid.uuid4()
    assert await pool.fetchrow(f"SELECT {literal(u)}, {literal(str(u))}::uuid, {literal(-42)}, {literal(True)}, "
                               f"{literal(False)}, {literal(None)}::int") == (u, u, -42, True, False, None)


def test_spelled_replaces_every_placeholder_and_refuses_what_does_not_fit():
    sql = spelled("UPDATE t SET n = n + $2 WHERE k = $1 AND j IN ($3, $4, $5, $6, $7, $8, $9) AND m = $10",
                  ["a", 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert sql.endswith("AND m = 9") and "n + 1 " in sql and "$" not in sql  # $10 is not $1 and a 0
    with pytest.raises(ValueError, match=r"\$2 has no argument"):
        spelled("SELECT $1, $2", ["a"])
    with pytest.raises(ValueError, match="not used"):
        spelled("SELECT $1", ["a", "b"])
    with pytest.raises(TypeError, match="float"):
        literal(1.5)  # a float's text is not what the caller meant to compare: refused, not rounded
