"""HTTP routes: a region's teacher roster read back — a page at a time, or as a spreadsheet.

What a county official checks after importing a roster, and the one place where the system's
teacher ids meet names: credits' lists of teachers short of hours carry ids only (credits holds
no personal data), so the roster export is what an official joins them with. National ID
numbers leave only masked (610102********123X), as from GET /v1/teachers/{id}.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.enrollment.api.orgs import CodeParam
from services.enrollment.api.teachers import ROSTER_ADMINS, TeacherPublic
from services.enrollment.titles import problem
from shared.auth import Authenticated, Principal, require_role, require_within
from shared.clock import Today
from shared.exports import CSV, XLSX, attachment, csv_bytes, download, xlsx_bytes
from shared.orgs import subtree_prefix
from shared.orgtree import subtree_codes_sql
from shared.paging import BAD_CURSOR, Page, cursor_text, page_cursor

router = APIRouter(tags=["teachers"])

MAX_EXPORT_ROWS = 100_000  # a city's teachers; a province exports city by city (or pages the JSON)
READERS = (*ROSTER_ADMINS, "auditor", "service")

# The teachers of the org's subtree (by GB/T 2260 prefix or the registered tree), school by school:
# a keyset page on (school, id), so a page never splits a school's order between two reads.
_ROSTER = f"""
WITH RECURSIVE region(code) AS ({subtree_codes_sql("$1", "$2")})
SELECT t.id, i.name, i.national_id_masked, t.school_code, o.name AS school_name, t.subject, t.stage, t.title,
       t.hired_on, t.version
FROM teachers t LEFT JOIN teacher_identities i ON i.teacher_id = t.id JOIN orgs o ON o.code = t.school_code
WHERE t.school_code IN (SELECT code FROM region) AND (t.school_code, t.id) > ($3, $4::uuid)
ORDER BY t.school_code, t.id LIMIT $5
"""
_START = ("", uuid.UUID(int=0))

COLUMNS = (("教师编号", "id"), ("姓名", "name"), ("身份证号(脱敏)", "national_id_masked"), ("学校代码", "school_code"),
           ("学校名称", "school_name"), ("学科", "subject"), ("学段", "stage"), ("职称", "title"),
           ("入职日期", "hired_on"))
NOTES = ("教师编号为系统内部编号,学分系统的学时不足名单按此编号列出教师。",
         "身份证号已脱敏;完整号码不出系统。")


class RosterTeacher(TeacherPublic):
    school_name: str


class RosterPage(Page[RosterTeacher]):
    """A page of the region's teachers, school by school (shared/paging.py Page)."""

    org_code: str


async def _roster(request: Request, principal: Principal, code: str, after: tuple[str, uuid.UUID],
                  limit: int) -> list[Any]:
    require_role(principal, *READERS)
    require_within(principal, code)
    async with request.app.state.pool.acquire() as conn:
        if not await conn.fetchval("SELECT true FROM orgs WHERE code = $1", code):
            raise problem("org_not_found", f"org {code} is not registered", 404)
        return await conn.fetch(_ROSTER, code, subtree_prefix(code), after[0], after[1], limit)


def _after(cursor: str | None) -> tuple[str, uuid.UUID]:
    if not cursor:
        return _START
    school, _, tid = cursor_text(cursor).partition("|")
    try:
        return school, uuid.UUID(tid)
    except ValueError:
        raise problem("bad_cursor", BAD_CURSOR, 422) from None


@router.get("/v1/orgs/{code}/teachers", response_model=RosterPage,
            summary="The teachers of an org's subtree, school by school (names, masked ID numbers)")
async def list_teachers(code: CodeParam, request: Request, principal: Authenticated,
                        limit: Annotated[int, Query(ge=1, le=500)] = 100,
                        cursor: Annotated[str | None, Query(max_length=200)] = None) -> RosterPage:
    rows = await _roster(request, principal, code, _after(cursor), limit + 1)
    items = [RosterTeacher(**dict(r)) for r in rows[:limit]]
    more = len(rows) > limit
    return RosterPage(org_code=code, items=items,
                      next_cursor=page_cursor(f"{items[-1].school_code}|{items[-1].id}") if more else None)


async def _export(request: Request, principal: Principal, code: str) -> list[dict[str, Any]]:
    rows = await _roster(request, principal, code, _START, MAX_EXPORT_ROWS + 1)
    if len(rows) > MAX_EXPORT_ROWS:
        raise problem("export_too_large", f"more than {MAX_EXPORT_ROWS:,} teachers under {code}: export its cities "
                      "or counties one at a time, or page through GET /v1/orgs/{code}/teachers", 422)
    return [{**dict(r), "id": str(r["id"])} for r in rows]


def _file(code: str, ext: str) -> dict[str, str]:
    return attachment(f"teachers-{code}.{ext}", "教师名册")


@router.get("/v1/orgs/{code}/teachers.csv", summary="The teachers of an org's subtree as CSV (UTF-8)",
            **download("text/csv", "CSV, UTF-8 with a byte-order mark, one row per teacher, Chinese headings"))
async def teachers_csv(code: CodeParam, request: Request, principal: Authenticated) -> Response:
    rows = await _export(request, principal, code)
    return Response(csv_bytes(COLUMNS, rows), media_type=CSV, headers=_file(code, "csv"))


@router.get("/v1/orgs/{code}/teachers.xlsx", summary="The teachers of an org's subtree as an Excel workbook",
            **download(XLSX, "an Excel workbook, one row per teacher, Chinese headings"))
async def teachers_xlsx(code: CodeParam, request: Request, principal: Authenticated, today: Today) -> Response:
    rows = await _export(request, principal, code)
    notes: list[list[Any]] = [["机构", code], ["导出日期", today.isoformat()], ["人数", len(rows)],
                              *([n] for n in NOTES)]
    widths = {"id": 38, "national_id_masked": 20, "school_name": 24}
    body = xlsx_bytes("教师名册", COLUMNS, rows, widths=widths, notes=notes)
    return Response(body, media_type=XLSX, headers=_file(code, "xlsx"))
