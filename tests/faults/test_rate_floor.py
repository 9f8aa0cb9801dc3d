"""The fault suite's rate check (tests/faults/test_faults.py assert_rate) on its own: pure, so it
runs in `make test`, not only in `make test-faults`. It decides whether a fault run was evidence of
real load; a check that passed everything would make every fault run pass on a trickle."""

from __future__ import annotations

import pytest

from tests.faults import test_faults


def run(before: float, whole: float, busy_before: float | None, busy_whole: float,
        offered: float = 160.0) -> dict:
    return {"rate offered (commands/s)": offered, "rate acknowledged before the fault (commands/s)": before,
            "rate acknowledged over the whole load (commands/s)": whole,
            "cpu during the load": {"machine busy before the fault (% of all cores)": busy_before,
                                    "machine busy (% of all cores)": busy_whole}}


@pytest.fixture
def ci_floors(monkeypatch: pytest.MonkeyPatch) -> None:
    """.ci/run's settings."""
    monkeypatch.setattr(test_faults, "MIN_RATE", 120.0)
    monkeypatch.setattr(test_faults, "SATURATED_MIN_RATE", 60.0)


def test_a_load_acknowledged_at_the_floor_passes_however_idle_the_machine(ci_floors: None):
    test_faults.assert_rate(run(before=125, whole=90, busy_before=40, busy_whole=40))
    test_faults.assert_rate(run(before=90, whole=121, busy_before=40, busy_whole=40))


def test_a_slow_load_on_a_machine_with_cores_to_spare_fails(ci_floors: None):
    with pytest.raises(AssertionError, match="load below 120"):
        test_faults.assert_rate(run(before=100, whole=100, busy_before=80, busy_whole=85))


def test_a_slow_load_that_saturated_the_machine_passes_down_to_the_saturated_floor(ci_floors: None):
    # CI on the morning of 2026-12-05: kill-funding acknowledged 84.7/s before the fault, machine 95 % busy.
    test_faults.assert_rate(run(before=84.7, whole=82.0, busy_before=95.3, busy_whole=95.3))
    # PostgreSQL stopped: the whole load idles through the outage; the window before it counts.
    test_faults.assert_rate(run(before=86.8, whole=69.2, busy_before=96.0, busy_whole=70.0))
    with pytest.raises(AssertionError):
        test_faults.assert_rate(run(before=55, whole=50, busy_before=99, busy_whole=99))


def test_a_saturated_window_counts_only_with_its_own_rate(ci_floors: None):
    # Busy before the fault, but the rate that reaches the floor is the whole load's, taken on a
    # machine with cores to spare: not a run the machine bounded.
    with pytest.raises(AssertionError):
        test_faults.assert_rate(run(before=40, whole=100, busy_before=95, busy_whole=70))


def test_an_offer_below_the_floor_fails_even_on_a_saturated_machine(ci_floors: None):
    with pytest.raises(AssertionError):
        test_faults.assert_rate(run(before=100, whole=100, busy_before=99, busy_whole=99, offered=110))


def test_by_default_saturation_earns_no_allowance(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(test_faults, "MIN_RATE", 150.0)
    monkeypatch.setattr(test_faults, "SATURATED_MIN_RATE", 150.0)
    with pytest.raises(AssertionError):
        test_faults.assert_rate(run(before=140, whole=140, busy_before=99, busy_whole=99))
