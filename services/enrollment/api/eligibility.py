"""HTTP routes: the eligibility preview (issue 15) — before nominating, an admin over the region
sees, for one teacher or for a page of the region's roster, each rule's verdict on nominating
them for a project: project open, teacher in the region, a quota, the nomination window (closes
on), the bar (until which year), category repeat, the yearly national limit, already nominated,
places left (places, used) — and, for a substitute (`substitute_for`), the vacancy it fills —
with the refusal code the nomination would give, the rule's source, `eligible` overall and the
enrollment policy version it was judged under.

The verdicts come from domain/nomination.py:assess_nomination, the function the nomination
itself decides by (decide_nomination refuses with the first failing verdict), on the facts the
nomination reads (handlers/nominate.py:nomination_facts; for a page, the same guard facts,
guards.CANDIDATE_FACTS, for every teacher of the page in one query).

A preview is a read: no Idempotency-Key, no event, no lock. It can be stale by the time the
county nominates (another nomination takes the last place, a check-in adds a category): the
nomination decides again on the facts it reads under the teacher's lock, and may refuse what the
preview allowed.

Who: the admins who may nominate for the region (province, city, county admin over it). The
preview of one teacher shows their national record, so a teacher outside the region must still
be within the caller's own jurisdiction (else 403 out_of_scope).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.enrollment import guards
from services.enrollment.domain.enrollment import ProjectFacts
from services.enrollment.domain.nomination import Candidate, Quota, Verdict, assess_nomination
from services.enrollment.domain.policy import EnrollmentPolicy, policy_in_force, versions_of
from services.enrollment.handlers.access import REGION_ADMINS, require
from services.enrollment.handlers.enrollment_stream import project_facts
from services.enrollment.handlers.nominate import VACANCY_FACTS, nomination_facts, vacancy_of
from services.enrollment.projector.policies import policy_rows_sql
from services.enrollment.titles import RULE_TITLES, problem
from shared.auth import Authenticated, Principal, can_read, require_role
from shared.clock import Today
from shared.orgtree import subtree_codes_sql, subtree_prefix
from shared.paging import BAD_CURSOR, Page, cursor_text, page_cursor

router = APIRouter(tags=["eligibility"])

RegionCode = Annotated[str, Query(min_length=2, max_length=32, pattern=r"^[0-9A-Za-z]+$",
                                  description="the nominating region, as for a nomination")]
SubstituteFor = Annotated[uuid.UUID | None, Query(description="judge a substitute nomination (缺额调整补充选派) in "
                                                              "the place of this no-show, as a nomination naming "
                                                              "substitute_for")]


class VerdictPublic(BaseModel):
    rule: str
    title: str
    ok: bool
    code: str | None  # the refusal the nomination would give; null when the rule passes
    detail: str
    source: str | None  # the seed section (e.g. "004 §3.1"); null for a rule of this service
    facts: dict[str, Any]


class Judgement(BaseModel):
    eligible: bool
    refusal: str | None  # the code a nomination on these facts would be refused with (the first failing rule's)
    verdicts: list[VerdictPublic]


class TeacherEligibility(Judgement):
    project_id: uuid.UUID
    teacher_id: uuid.UUID
    school_code: str
    region_code: str
    policy: str  # the enrollment policy version judged under, as the nomination's event would name it
    judged_on: date


class RosterEntry(Judgement):
    teacher_id: uuid.UUID
    name: str | None
    school_code: str


class RosterPage(Page[RosterEntry]):
    project_id: uuid.UUID
    region_code: str
    policy: str
    judged_on: date


def _judgement(verdicts: list[Verdict]) -> dict[str, Any]:
    return {
        "eligible": all(v.ok for v in verdicts), "refusal": next((v.code for v in verdicts if not v.ok), None),
        "verdicts": [VerdictPublic(rule=v.rule, title=RULE_TITLES[v.rule], ok=v.ok, code=v.code, detail=v.detail,
                                   source=v.source, facts=dict(v.facts)) for v in verdicts]}


def _may_nominate_for(principal: Principal, region_code: str) -> None:
    """As for a nomination (api/enrollments.py:nominate): an admin over the region."""
    require_role(principal, *REGION_ADMINS)
    require(can_read(principal, region_code))


@router.get("/v1/projects/{project_id}/eligibility", response_model=TeacherEligibility,
            summary="Eligibility preview: each nomination rule's verdict for one teacher (writes nothing)")
async def teacher_eligibility(project_id: uuid.UUID, teacher_id: uuid.UUID, region_code: RegionCode,
                              request: Request, principal: Authenticated, today: Today,
                              substitute_for: SubstituteFor = None) -> TeacherEligibility:
    _may_nominate_for(principal, region_code)
    async with request.app.state.pool.acquire() as conn:
        facts = await nomination_facts(conn, project_id, teacher_id, region_code, substitute_for)
    if not facts.candidate.in_region:
        require(can_read(principal, facts.teacher_school), "the teacher is outside this principal's jurisdiction")
    policy = facts.policy(today)
    verdicts = assess_nomination(region_code=region_code, project=facts.project, candidate=facts.candidate,
                                 quota=facts.quota, today=today, policy=policy, vacancy=facts.vacancy)
    return TeacherEligibility(project_id=project_id, teacher_id=teacher_id, school_code=facts.teacher_school,
                              region_code=region_code, policy=policy.label, judged_on=today, **_judgement(verdicts))


# The project's side of the facts, for a whole page: the project, the region's places, the
# policy versions that may govern it, a substitute's vacancy, and whether the region is an org.
_PROJECT = f"""
SELECT p.*, q.places, q.used, q.split, {policy_rows_sql("p.organizer_code")}, {VACANCY_FACTS.format(param="$3")},
       EXISTS (SELECT 1 FROM orgs WHERE code = $2) AS region_known
FROM projects p LEFT JOIN project_quotas q ON q.project_id = p.id AND q.region_code = $2
WHERE p.id = $1
"""


def _per_teacher(candidate_facts: str) -> str:
    """guards.CANDIDATE_FACTS (its $1 the project, $2 the teacher) for every row of a page: the
    teacher is the row's `t.id`. The guard facts stay read where guards.py writes them."""
    assert "$2" in candidate_facts, "guards.CANDIDATE_FACTS no longer names the teacher $2"
    return candidate_facts.replace("$2", "t.id")


# The region's teachers — schools in its subtree by GB/T 2260 prefix or the registered tree, the
# set shared.orgtree.within answers for (so every one is in the region) — a keyset page by id,
# each with its national record and place in the project as the nomination reads them.
_ROSTER = f"""
WITH RECURSIVE region(code) AS ({subtree_codes_sql("$2", "$3")})
SELECT t.id, t.school_code, i.name, {_per_teacher(guards.CANDIDATE_FACTS)}
FROM teachers t LEFT JOIN teacher_identities i ON i.teacher_id = t.id
WHERE t.school_code IN (SELECT code FROM region) AND ($4::uuid IS NULL OR t.id > $4)
ORDER BY t.id LIMIT $5
"""


def _after(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    try:
        return uuid.UUID(cursor_text(cursor))
    except ValueError:
        raise problem("bad_cursor", BAD_CURSOR, 422) from None


@router.get("/v1/projects/{project_id}/eligibility/roster", response_model=RosterPage,
            summary="Eligibility preview for a page of the region's roster (writes nothing)")
async def roster_eligibility(project_id: uuid.UUID, region_code: RegionCode, request: Request,
                             principal: Authenticated, today: Today, substitute_for: SubstituteFor = None,
                             limit: Annotated[int, Query(ge=1, le=200)] = 50,
                             cursor: Annotated[str | None, Query(max_length=200)] = None) -> RosterPage:
    _may_nominate_for(principal, region_code)
    after = _after(cursor)
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(_PROJECT, project_id, region_code, substitute_for)
        if row is None:
            raise problem("project_not_found", f"no project {project_id}", 404)
        if not row["region_known"]:
            raise problem("region_not_found", f"no org {region_code}", 404)
        rows = await conn.fetch(_ROSTER, project_id, region_code, subtree_prefix(region_code), after, limit + 1)
    project: ProjectFacts = project_facts(row)
    quota = None if row["places"] is None else Quota(row["places"], row["used"], row["split"])
    policy: EnrollmentPolicy = policy_in_force(versions_of(row["policies"] or ()), project.organizer_code, today)
    vacancy = vacancy_of(row, substitute_for)
    items = []
    for r in rows[:limit]:
        candidate = Candidate(in_region=True, history=guards.national_history(r), in_project=r["in_project"])
        verdicts = assess_nomination(region_code=region_code, project=project, candidate=candidate, quota=quota,
                                     today=today, policy=policy, vacancy=vacancy)
        items.append(RosterEntry(teacher_id=r["id"], name=r["name"], school_code=r["school_code"],
                                 **_judgement(verdicts)))
    more = len(rows) > limit
    return RosterPage(project_id=project_id, region_code=region_code, policy=policy.label, judged_on=today,
                      items=items, next_cursor=page_cursor(str(items[-1].teacher_id)) if more else None)
