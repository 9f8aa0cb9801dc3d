"""HTTP route: a teacher's transcript (学时档案) — ledger lines, hours and credits per school
year and category, cycle progress, annual and cycle compliance, induction progress for new
teachers — optionally as it stood on a past date (`as_of`).

Who reads: the teacher themself (sub = teacher id); school, county, city and province admins and
auditors whose subtree holds the teacher's school; service accounts.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request

from services.credits.api.common import as_of_or_today
from services.credits.api.models import Transcript
from services.credits.domain.ledger import Induction, Ledger, Line, Period
from services.credits.domain.policies import policy_to_data
from services.credits.domain.policy import num
from services.credits.queries.ledger import load_ledger
from shared.auth import Authenticated
from shared.calendar import year_named
from shared.clock import Today
from shared.inputs import IsoDate

router = APIRouter(tags=["transcripts"])


def _source(source: Any) -> dict[str, Any]:
    """The entry's source; a completion's `year` is the project's year (项目年度), which may differ
    from the entry's school_year: a 2024 project completed in July 2024 credits the 2023学年.

    HoursAwarded v2 names it `project_year` (events.py); the transcript answers `year` with its
    year_kind, as it always has. A ledger row projected from v1 before the rename (and not rebuilt
    since) still says `year`: both read alike."""
    out = dict(source)
    if out.get("type") == "enrollment":
        year = out.pop("project_year", None)
        if year is None:
            year = out.get("year")
        if year is not None:
            out["year"] = year
            out.update(year_named("project_year", int(year)))
    return out


def _line(ln: Line) -> dict[str, Any]:
    e = ln.entry
    out: dict[str, Any] = {"kind": ln.kind, "entry_id": e.entry_id, "on": ln.on.isoformat(), "hours": num(ln.hours),
           "category": e.category, "school_year": e.school_year, "status": ln.status}
    if ln.kind == "entry":
        out.update(source_type=e.kind, earned_on=e.earned_on.isoformat(), source=_source(e.source))
    else:
        out["reason"] = e.revoke_reason
    return out


def period_json(p: Period) -> dict[str, Any]:
    return {
        "start_year": p.start_year, "end_year": p.end_year, "label": p.label, "hours": num(p.hours),
        "credits": num(p.credits), "target": num(p.target), "target_basis": p.target_basis, "met": p.met,
        "progress": num(p.progress),
        "categories": [{"category": c.category, "hours": num(c.hours), "credits": num(c.credits),
                        "min_hours": num(c.min_hours), "met": c.met} for c in p.categories],
        "policy": {"jurisdiction_code": p.policy.jurisdiction_code,
                   "effective_from": p.policy.effective_from.isoformat()} if p.policy else None,
    }


def _induction(i: Induction | None) -> dict[str, Any] | None:
    if i is None:
        return None
    return {"hired_on": i.hired_on.isoformat(), "window_ends_on": i.window_ends_on.isoformat(),
            "target": num(i.target), "hours": num(i.hours), "progress": num(i.progress), "met": i.met}


def transcript_json(teacher_id: uuid.UUID, ledger: Ledger, row: Any) -> dict[str, Any]:
    years = ledger.years()
    cycle = ledger.cycle()
    induction = ledger.induction()
    current = next((y for y in years if y.start_year == ledger.current_year), ledger.year(ledger.current_year))
    return {
        "teacher_id": str(teacher_id), "as_of": ledger.as_of.isoformat(),
        "school_code": row["school_code"] if row else None,
        "policy": policy_to_data(ledger.policy) if ledger.policy else None,
        "current_school_year": ledger.current_year,
        "entries": [_line(ln) for ln in ledger.lines()],
        "years": [{"school_year": y.start_year, **period_json(y)} for y in years],
        "cycle": period_json(cycle) if cycle else None,
        "induction": _induction(induction),
        "compliance": {
            "annual": {"school_year": current.start_year, "target": num(current.target), "met": current.met},
            "cycle": {"start_year": cycle.start_year, "end_year": cycle.end_year, "target": num(cycle.target),
                      "met": cycle.met} if cycle else None,
            "induction": None if induction is None else {"target": num(induction.target), "met": induction.met},
        },
    }


@router.get("/v1/teachers/{teacher_id}/transcript", summary="A teacher's transcript (学时档案)",
            response_model=Transcript)
async def get_transcript(teacher_id: uuid.UUID, request: Request, principal: Authenticated, today: Today,
                         as_of: IsoDate | None = Query(None, description="the transcript as it stood on this date"),
                         ) -> Any:
    on = as_of_or_today(as_of, today)
    async with request.app.state.pool.acquire() as conn:
        ledger, row = await load_ledger(conn, principal, teacher_id, on)
    return transcript_json(teacher_id, ledger, row)
