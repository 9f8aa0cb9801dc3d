"""What every funding route shares: money, year and code types, who reads, and the opaque cursor.

Who may act or read (API.md "funding"):
- an org's own budget, disbursements and their reversals: that org's administrator — the admin
  role of its kind with `org` equal to its code (domain/ledger.require_own_admin); an admin
  higher up reads it but cannot act for it;
- allocations: the allocating org's administrator, to an org below it on the tree;
- reads: admins, auditors and finance (财务, read-only) within their subtree, and `service`.
Checks run in a fixed order: role (403 forbidden_role, the route) → scope by code (403
out_of_scope, the route; the handler where the org is known only from the loaded entry) →
existence (404, the handler's facts) → being the org's own admin (403 forbidden_role, the
handler), so a caller learns nothing about orgs outside their jurisdiction.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from services.funding.domain.accounts import MAX_FEN
from services.funding.domain.ledger import ADMIN_OF
from shared.paging import cursor_text, page_cursor

ADMINS = tuple(ADMIN_OF.values())
# finance (财务): reads funding within its subtree, never acts (issue 20).
READERS = (*ADMINS, "auditor", "finance", "service")

# Money is JSON integers only: StrictInt turns away 1.5, "100", 1e3 (a float once parsed) and
# booleans with 422; the cap keeps every amount exact in JSON and far from bigint overflow.
Fen = Annotated[StrictInt, Field(gt=0, lt=MAX_FEN, description="integer fen, 0 < n < 10^15")]
FenOrZero = Annotated[StrictInt, Field(ge=0, lt=MAX_FEN, description="integer fen, 0 ≤ n < 10^15")]
Year = Annotated[int, Field(ge=2000, le=2100)]
StrictYear = Annotated[StrictInt, Field(ge=2000, le=2100)]
OrgCode = Annotated[str, Field(min_length=6, max_length=12, pattern=r"^[0-9]+$")]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def after(cursor: str | None) -> str:
    """What an opaque `cursor` (a next_cursor handed out before) says to continue after."""
    return cursor_text(cursor) if cursor else ""


def cursor_after(value: object) -> str:
    """The opaque cursor continuing after `value` (an org code, a project id, a position)."""
    return page_cursor(str(value))
