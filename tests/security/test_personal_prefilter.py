"""The pre-check every append runs (shared/personal.py): fast, and never a false "no"."""

from __future__ import annotations

import pytest

from shared.personal import has_national_id, may_hold_national_id

NUMBER = "11010519491231002X"


@pytest.mark.parametrize("value", [
    {"reason": f"本人身份证 {NUMBER}"},
    {"nested": [{"deep": NUMBER.replace("X", "7")}]},
    {"code": NUMBER[:17] + "x"},
    {"reason": "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in NUMBER)},  # full-width digits
    {"n": int(NUMBER[:17] + "7")},  # a bare 18-digit integer
])
def test_any_value_holding_a_number_passes_on_to_the_exact_check(value) -> None:
    assert may_hold_national_id(value)


@pytest.mark.parametrize("value", [
    {"teacher_id": "6f1c2b9e-8d4a-4c3e-9f2a-1b2c3d4e5f60", "hours": 6.0, "on": "2026-03-12"},
    {"phone": "1381234567890123"},  # 16 digits
    {"parts": NUMBER[:9] + "-" + NUMBER[9:]},
    {"text": "学时 36 小时"},
])
def test_values_without_seventeen_digits_in_a_row_are_cleared(value) -> None:
    assert not may_hold_national_id(value)
    assert not has_national_id(str(value))
