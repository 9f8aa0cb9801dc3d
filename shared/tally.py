"""Counts that add up field by field (pure; a base for frozen dataclasses of integers), so a
figure of a school, a region or a host rolls up by `+` and every service's counts add alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, Self


class Tally:
    """Mix into a `@dataclass(frozen=True)` whose fields are all ints that default to 0."""

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Self:
        """From a mapping (a database row) holding at least the count columns; None reads as 0."""
        counts: Any = cls
        return cls(**{f.name: int(row[f.name] or 0) for f in fields(counts)})

    def __add__(self, other: Self) -> Self:
        this: Any = self  # a dataclass instance: `fields` reads its declared counts
        return type(self)(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(this)})
