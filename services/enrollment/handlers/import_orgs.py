"""Import part of the org tree from CSV (POST /v1/orgs/import), all or nothing
(domain/org_import.py judges the file).

A few statements for the whole file, where one PUT per org took a round of HTTP and a command
each (a province's 10,000 schools were the slowest part of its go-live, docs/scale.md): the
registered orgs the rows name read at once from the read model, which every registration updates
in its own transaction, so its version is the stream's; every stream recorded through one append.
"""

from __future__ import annotations

import functools
from typing import Any

from services.enrollment.domain.org_import import OrgRow, decide_org_import
from services.enrollment.domain.orgs import Org
from services.enrollment.titles import problem
from shared.auth import can_read
from shared.unit_of_work import Reply, UnitOfWork

_REGISTERED = "SELECT code, name, kind, parent_code, version FROM orgs WHERE code = ANY($1)"


async def handle(uow: UnitOfWork, rows: list[OrgRow], unreadable: list[dict[str, Any]]) -> Reply:
    named = sorted({r.org.code for r in rows} | {r.org.parent_code for r in rows if r.org.parent_code})
    found = await uow.conn.fetch(_REGISTERED, named)
    registered = {r["code"]: Org(r["code"], r["name"], r["kind"], r["parent_code"]) for r in found}
    versions = {r["code"]: r["version"] for r in found}
    within = functools.cache(lambda code: can_read(uow.principal, code))
    decided, refused = decide_org_import(rows, registered, within)
    errors = unreadable + refused
    if errors or not rows:
        raise problem("invalid_rows", f"{len(errors)} invalid rows; nothing was recorded" if errors
                      else "the file has no rows", 422, errors=sorted(errors, key=lambda e: e["line"]))
    uow.record_many([(f"org-{code}", versions.get(code, 0), events) for code, events in decided])
    new = sum(code not in registered for code, _ in decided)
    return Reply(200, {"rows": len(rows), "registered": new, "renamed": len(decided) - new,
                       "unchanged": len(rows) - len(decided)})
