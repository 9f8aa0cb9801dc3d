"""Synthetic but valid people for benchmarks: GB 11643 numbers built with the domain's own
check-character function, so a benchmark never measures the rejection path by accident."""

from __future__ import annotations

from datetime import date, timedelta

from services.enrollment.domain.national_id import check_char

_EPOCH = date(1965, 1, 1)


def national_id(i: int, region: str = "610102") -> str:
    # 1,000 sequence numbers per birthday: unique for the first 14 million people.
    born = _EPOCH + timedelta(days=i // 1000)
    first17 = f"{region}{born:%Y%m%d}{i % 1000:03d}"
    return first17 + check_char(first17)
