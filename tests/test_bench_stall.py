"""A p99 ratio against a baseline whose own tail stalled is not counted as met (bench/load.py
`LoadResult.stalled`, bench/run.py `p99_figure`): on 2026-12-06 the bare insert's open-loop p99
was 1,384 ms against a p50 of 1.2, and nominate's 53 ms read as 0.04× of it, "met"."""

from bench.load import STALL, LoadResult
from bench.run import p99_figure


def _run(latencies: list[float]) -> LoadResult:
    return LoadResult(requests=len(latencies), errors=0, seconds=10.0, latencies_ms=latencies, offered_rate=600.0)


def test_a_healthy_tail_is_a_reference():
    healthy = _run([1.1] * 985 + [4.0] * 15)  # p99 3.6× its p50, as the bare insert's usually is
    assert not healthy.stalled
    fig = p99_figure("nominate", _run([5.0] * 985 + [12.0] * 15), healthy)
    assert fig.met is True
    assert "stalled" not in fig.note


def test_a_stalled_baseline_makes_no_ratio_met():
    stalled = _run([1.2] * 985 + [1384.0] * 15)
    assert stalled.stalled
    fig = p99_figure("nominate", _run([5.2] * 985 + [53.1] * 15), stalled)
    assert fig.ratio is not None and fig.ratio < 4  # the ratio alone would say "met"
    assert fig.met is False
    assert "stalled" in fig.note and "1,384 ms" in fig.note


def test_our_own_stall_still_misses():
    fig = p99_figure("attendance", _run([4.0] * 985 + [900.0] * 15), _run([1.1] * 985 + [4.0] * 15))
    assert fig.met is False
    assert "stalled" not in fig.note


def test_the_threshold_is_where_the_docstring_puts_it():
    assert not _run([1.0] * 985 + [STALL - 0.5] * 15).stalled
    assert _run([1.0] * 985 + [STALL] * 15).stalled
    assert not _run([]).stalled
