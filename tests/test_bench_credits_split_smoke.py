"""bench/credits_split.py at tiny sizes, so it cannot rot. No speed is asserted: the figures come
from `python -m bench.credits_split`, never from a test."""

from __future__ import annotations

from bench.credits_split import measure, report


async def test_the_split_measures_each_side_and_names_the_statements(tmp_path):
    [only] = await measure(tmp_path, completions=200, rounds=1)
    split = only.split
    assert only.raw > 0 and only.ours > 0  # bench.credits checked every completion earned its entry
    assert split.seconds > 0 and split.python > 0
    # PostgreSQL's process CPU comes from /proc in clock ticks (10 ms), which 200 completions may not
    # fill (it read 0.0 on CI): its work is asserted by pg_stat_statements, timed to the microsecond.
    assert sum(ms for _, ms, _ in split.statements) > 0
    assert any('COPY "events"' in text or "INSERT INTO events" in text for _, _, text in split.statements)
    text = report([only])
    assert text.startswith("| round | wall µs | Python µs | PostgreSQL µs |") and "| 1 |" in text
