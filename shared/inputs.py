"""Validated input types for request bodies and query parameters: one rule per kind of value, the
same in every service, so bad input is a 422 problem that names the field, never a 500 later.

- `Text`: one line of text a person typed — a name, title, category, code, purpose. Refused:
  control characters (NUL, ESC, tab, line breaks, the C1 range), invisible format characters
  (U+202E RIGHT-TO-LEFT OVERRIDE, which makes 王芳 display as another string; zero-width
  spaces and joiners), line and paragraph separators, and lone surrogates. Spaces pass, the
  ideographic space U+3000 included, and so do private-use characters: some systems still
  store rare characters of Chinese names (生僻字) there.
- `Note`: free text over several lines (reasons, comments): as `Text`, with tab and line
  breaks allowed.
- `IsoDate`: a calendar date written YYYY-MM-DD, from 1900-01-01 to 2199-12-31. Pydantic's lax
  mode would read `0` or `20100901` as a Unix timestamp, and a year 1 or 9999 only breaks
  arithmetic further down (a school year's start, a deadline 15 days on).

`text_issue` (shared/text.py, pure, so a service's domain/ checks an imported spreadsheet's
rows with it) is the rule as a function, for values that do not arrive through a model.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from .text import text_issue

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _single_line(value: str) -> str:
    if (issue := text_issue(value)) is not None:
        raise ValueError(issue)
    return value


def _multi_line(value: str) -> str:
    if (issue := text_issue(value, multiline=True)) is not None:
        raise ValueError(issue)
    return value


def _iso_date_text(value: object) -> object:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("日期格式应为 YYYY-MM-DD a date must be written YYYY-MM-DD")
    return value


def _date_in_range(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"日期超出范围 a date must lie between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


SINGLE_LINE = AfterValidator(_single_line)
"""The `Text` rule as metadata, to put after StringConstraints(strip_whitespace=...): constraints
written after a validator run as generic checks, before the strip."""
MULTI_LINE = AfterValidator(_multi_line)

Text = Annotated[str, SINGLE_LINE]
Note = Annotated[str, MULTI_LINE]
IsoDate = Annotated[date, BeforeValidator(_iso_date_text), AfterValidator(_date_in_range)]
IsoDateAnyYear = Annotated[date, BeforeValidator(_iso_date_text)]
"""YYYY-MM-DD only, for a field whose own rule bounds it (a hiring date: not in the future, not
before the teacher turned 16) and answers with its own reason."""
