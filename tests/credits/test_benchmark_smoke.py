"""The credits benchmark at tiny sizes, so it cannot rot. No speed is asserted: figures come from
`python -m bench.credits` (full sizes), never from a test."""

from __future__ import annotations

from bench.credits import bench_apply, bench_rebuild, table


async def test_benchmark_runs_both_figures_against_their_baselines(pg_server_url, nats_url):
    raw, ours = await bench_apply(pg_server_url, nats_url, 60)
    copy, rebuilt = await bench_rebuild(pg_server_url, 600, chunk=250)
    assert min(raw, ours, copy, rebuilt) > 0
    text = table(60, 600, raw, ours, copy, rebuilt)
    assert "| apply (60 completions → HoursAwarded) |" in text and "| rebuild ledger (600 events) |" in text
