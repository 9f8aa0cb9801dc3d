"""bench/driver.py at tiny sizes, so it cannot rot. No speed is asserted: the figures come from
`python -m bench.driver`, never from a test."""

from __future__ import annotations

from bench.driver import SIDES, measure, table


async def test_both_drivers_run_the_same_commands_and_are_tabled(pg_server_url):
    sides = await measure(pg_server_url, None, workers=2, commands=40, rounds=1)
    assert [s.name for s in sides] == ["asyncpg", "psycopg", "optimistic"]
    assert all(s.commands == 40 and s.seconds > 0 for s in sides)  # measure() checked every write landed
    text = table(sides, 2)
    assert all(f"| {label} |" in text for label in SIDES.values())
