"""Import a roster CSV (POST /v1/teachers/import): every row valid and written, or nothing
(domain/roster_import.py judges the file).

Set-based, so a county's 10,000 rows cost a few statements: the schools and the registered
national IDs read once, the identities claimed in one statement (each ID's look-up hash computed
once, for the file's check and the claim), every teacher's stream recorded through one append
(uow.record_many → append_many) and the teachers read model written by
one bulk handler (projector/teachers.py).
"""

from __future__ import annotations

import functools
from datetime import date

from services.enrollment import pii
from services.enrollment.domain import roster, roster_import
from services.enrollment.domain.orgs import Org
from services.enrollment.titles import problem
from shared.auth import can_read
from shared.envelope import uuid4s
from shared.eventstore import NO_STREAM
from shared.unit_of_work import Reply, UnitOfWork


async def handle(uow: UnitOfWork, vault: pii.PiiVault, headings: dict[str, str], rows: list[roster.CsvRow],
                 today: date) -> Reply:
    check = roster_import.check_rows(headings, rows, today, vault.lookup)
    schools = {r["code"]: Org(r["code"], r["name"], r["kind"], r["parent_code"]) for r in await uow.conn.fetch(
        "SELECT code, name, kind, parent_code FROM orgs WHERE code = ANY($1)", sorted({c for _, c in check.schools}))}
    registered = await pii.registered(uow.conn, list(check.keys))
    in_scope = functools.cache(lambda code: can_read(uow.principal, code))  # once per school, not per row
    issues = roster_import.check_facts(check, schools, registered, in_scope)
    if issues:
        raise problem("invalid_rows", f"{len(issues)} problem(s) found", 422, errors=issues, rows=len(rows))
    ids = uuid4s(len(check.good))
    names = [str(tid) for tid in ids]
    uow.record_many([(f"teacher-{name}", NO_STREAM,
                      roster.decide_register_teacher(None, name, row, schools[row.school_code]))
                     for name, (_, row) in zip(names, check.good, strict=True)])
    # A person registered concurrently since the check above refuses the file, as one registered before.
    claimed = await pii.claim_identities(uow.conn, vault, [(tid, r.name, r.national_id)
                                                           for tid, (_, r) in zip(ids, check.good, strict=True)],
                                         check.good_keys)
    roster.check_new_people(claimed, len(ids))
    return Reply(201, {"imported": len(ids), "teacher_ids": names})
