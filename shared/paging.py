"""Opaque page cursors (`next_cursor` in list responses): the text of where a page ended, base64url
so clients pass it back as given and never build one. What goes in (a code, an id, a sort key)
is each route's; that it comes back intact, or is a 422 `bad_cursor`, is decided here once."""

from __future__ import annotations

import base64
import binascii
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from .refusal import Refused

BAD_CURSOR = "pass next_cursor back unchanged"
T = TypeVar("T")


def page_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def cursor_text(cursor: str) -> str:
    """The text a `page_cursor` carries; a cursor we did not hand out is a 422 `bad_cursor`."""
    try:
        return base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Refused("bad_cursor", BAD_CURSOR, 422) from None


class Page(BaseModel, Generic[T]):
    """Every list the API answers is a page of this shape (issue 16): `items`, and `next_cursor` to
    pass back as `cursor` for the next page — opaque, null on the last page; a cursor we did not
    hand out is a 422 `bad_cursor`. A list with a header of its own (the year it covers, the
    policy it was judged by) subclasses it."""

    items: list[T]
    next_cursor: str | None = Field(description="pass back as `cursor` for the next page, unchanged; null: the last")
