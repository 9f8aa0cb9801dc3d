"""Opaque page cursors (`next_cursor` in list responses): the text of where a page ended, base64url
so clients pass it back as given and never build one. What goes in (a code, an id, a sort key)
is each route's; that it comes back intact, or is a 422 `bad_cursor`, is decided here once."""

from __future__ import annotations

import base64
import binascii

from .refusal import Refused

BAD_CURSOR = "pass next_cursor back unchanged"


def page_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def cursor_text(cursor: str) -> str:
    """The text a `page_cursor` carries; a cursor we did not hand out is a 422 `bad_cursor`."""
    try:
        return base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Refused("bad_cursor", BAD_CURSOR, 422) from None
