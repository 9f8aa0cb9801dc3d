"""HTTP route: compliance per org and school year — teachers, teachers meeting the annual
target, share — rolled up from schools to county, city and province, with the figures of each
direct child of the org.

Rules: a teacher counts in a school year when registered with a school in the subtree and hired
no later than that year's last day. Their annual target is that of the policy in force for their
school (nearest up the tree) on the earlier of today and the year's last day; category minimums
must be met too. Hours come from `teacher_years` (active entries, kept by ComplianceProjection).
Share = meeting ÷ teachers, 4 places, rounded down.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from fastapi import APIRouter, Path, Query, Request

from services.credits.api.common import READERS, Today, num, out_of_scope
from services.credits.domain.ledger import ratio
from services.credits.domain.orgs import chain, kind_of
from services.credits.domain.policy import DEFAULT_SCHOOL_YEAR_START, tenths, year_bounds, year_label
from services.credits.queries import org_parents, policy_book
from shared.auth import Authenticated, can_read, require_role, subtree_prefix

router = APIRouter(tags=["compliance"])

_SCHOOLS = """
SELECT DISTINCT school_code FROM teacher_schools
WHERE school_code = $1 OR ($2::text IS NOT NULL AND school_code LIKE $2 || '%')
"""
_COUNTS = """
WITH tg AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::jsonb[], $4::date[])
            AS tg(school_code, target, cat_min, last_day))
SELECT t.school_code, count(*) AS teachers,
       count(*) FILTER (WHERE tg.target IS NOT NULL AND coalesce(y.hours_tenths, 0) >= tg.target
           AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(tg.cat_min) AS m(k, v)
                           WHERE coalesce((y.by_category ->> m.k)::bigint, 0) < m.v::bigint)) AS meeting,
       count(*) FILTER (WHERE tg.target IS NULL) AS without_policy
FROM teacher_schools t JOIN tg ON tg.school_code = t.school_code
LEFT JOIN teacher_years y ON y.teacher_id = t.teacher_id AND y.school_year = $5
WHERE t.hired_on IS NULL OR t.hired_on <= tg.last_day
GROUP BY t.school_code
"""


def _figures(teachers: int, meeting: int, without: int) -> dict:
    return {"teachers": teachers, "meeting": meeting, "share": num(ratio(Decimal(meeting), Decimal(teachers))),
            "without_policy": without}


@router.get("/v1/orgs/{code}/compliance", summary="Teachers meeting the annual target, rolled up")
async def get_compliance(request: Request, principal: Authenticated, today: Today,
                         code: str = Path(min_length=6, max_length=12, pattern=r"^[0-9]+$"),
                         year: int = Query(ge=2000, le=2100, description="school year, e.g. 2023 = 2023学年")):
    require_role(principal, *READERS)
    if not can_read(principal, code):
        raise out_of_scope(f"org {code} is outside this principal's jurisdiction")
    pool = request.app.state.pool
    async with pool.acquire() as conn:
        schools = [r["school_code"] for r in await conn.fetch(_SCHOOLS, code, subtree_prefix(code))]
        parents = await org_parents(conn, [*schools, code])
        chains = {s: chain(s, parents) for s in schools}
        book = await policy_book(conn, sorted({c for ch in chains.values() for c in ch}))
        targets, minimums, last_days = [], [], []
        for s in schools:
            start = DEFAULT_SCHOOL_YEAR_START
            p = book.for_chain(chains[s], today)
            if p is not None:
                start = p.school_year_start
            last_day = year_bounds(year, start)[1]
            p = book.for_chain(chains[s], min(today, last_day))
            target, _ = p.annual_target() if p else (None, None)
            targets.append(tenths(target) if target is not None else None)
            minimums.append({c.code: tenths(c.min_hours) for c in p.categories if c.min_hours} if p else {})
            last_days.append(last_day)
        rows = await conn.fetch(_COUNTS, schools, targets, minimums, last_days, year)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        for node in chains[r["school_code"]]:
            t = totals[node]
            t[0], t[1], t[2] = t[0] + r["teachers"], t[1] + r["meeting"], t[2] + r["without_policy"]
            if node == code:
                break
    children = defaultdict(lambda: [0, 0, 0])
    for s in schools:  # the direct child of `code` on each school's way up
        ch = chains[s]
        if code in ch and ch.index(code) > 0:
            children[ch[ch.index(code) - 1]] = totals[ch[ch.index(code) - 1]]
    return {
        "org_code": code, "kind": kind_of(code), "year": year, "label": year_label(year), "as_of": today.isoformat(),
        **_figures(*totals[code]),
        "children": [{"code": c, "kind": kind_of(c), **_figures(*v)} for c, v in sorted(children.items())],
    }
