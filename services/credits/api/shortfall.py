"""HTTP routes: teachers short of hours (学时不足), and reminders for them (issue 15).

- GET /v1/orgs/{code}/short-of-hours?year=&limit=&cursor=: the counted teachers of the org's
  subtree short of the annual target, the cycle share due by the year's end or a category
  minimum, each with the shortfall per target and the policy version used; paged by
  (school, teacher), `next_cursor` passed back unchanged.
- GET /v1/orgs/{code}/short-of-hours.csv and .xlsx: the same list, unpaged, one row per
  teacher and target, with Chinese headers (shared/exports.py, the writer of every export).
- POST /v1/reminders/short-of-hours {org_code, year}: publishes a TeacherShortOfHours event for
  each short teacher not yet reminded by that org for that year (idempotent per (org, year,
  teacher)); 201 when it published any, 200 when there was nothing new.

Judged today (Asia/Shanghai) on the active hours credits holds now (`teacher_years`, the hours
compliance counts), under the targets of domain/shortfall.py. Who: lists — province, city,
county and school admins and auditors over their subtree, service accounts anywhere; reminders —
province, city and county admins over their subtree (the levels that run training). Teachers and
hosts: 403 forbidden_role; an org outside the caller's subtree: 403 out_of_scope. Rows name the
internal teacher id only: credits holds no names (enrollment's roster does).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.credits.access import READERS
from services.credits.api.common import decode_cursor, encode_cursor
from services.credits.api.models import Reminders, ShortOfHours
from services.credits.domain import shortfall as rules
from services.credits.domain.shortfall import CATEGORY, ShortTeacher, policy_used, shortfall_data
from services.credits.handlers import remind_short
from services.credits.queries import shortfall as facts
from services.credits.titles import problem
from shared.auth import Authenticated, Principal, can_read, require_role, require_within
from shared.calendar import school_year_label
from shared.clock import Today
from shared.exports import CSV, XLSX, attachment, csv_bytes, download, xlsx_bytes
from shared.unit_of_work import Command

router = APIRouter(tags=["short of hours"])
OrgCode = Annotated[str, Path(min_length=6, max_length=12, pattern=r"^[0-9]+$")]
Year = Annotated[int, Query(ge=2000, le=2100, description="school year, e.g. 2023 = 2023学年")]
REMINDERS = ("province_admin", "city_admin", "county_admin")
DOC = (rules.__doc__ or "") + "\n" + (__doc__ or "")

TARGET_LABELS = {"annual": "年度学时", "cycle": "周期学时(按年度进度)", "category": "类别学时"}
COLUMNS = (("教师编号", "teacher_id"), ("学校代码", "school_code"), ("学年", "label"), ("未达目标", "target_label"),
           ("学时类别", "category_label"), ("应完成学时", "required_hours"), ("已完成学时", "hours"),
           ("差额学时", "short_hours"), ("政策辖区", "jurisdiction_code"), ("政策版本", "policy_version"))
NOTES = ("年度学时:本学年有效学时对照年度目标;类别学时:本学年各学时类别对照该类别下限;",
         "周期学时(按年度进度):本周期截至本学年的有效学时,对照周期目标按已过年数折算的应完成学时(周期末年即周期目标)。",
         "项目学时类别按学分政策的类别映射计入学分类别;未映射的学时不计入任何类别下限。",
         "学时取自学分系统当前有效记录(已撤销的不计);教师编号为系统内部编号,不含姓名、身份证号。",
         "姓名按教师编号对照报名系统的教师名册导出(GET /v1/orgs/{机构代码}/teachers.xlsx)。")


def _scope(principal: Principal, code: str) -> None:
    require_role(principal, *READERS)
    if not can_read(principal, code):
        raise problem("out_of_scope", f"org {code} is outside this principal's jurisdiction", 403)


def _item(t: ShortTeacher) -> dict[str, Any]:
    return {"teacher_id": t.teacher_id, "school_code": t.school_code,
            "shortfalls": [shortfall_data(f, t.targets.policy) for f in t.shortfalls],
            "policy": policy_used(t.targets.policy)}


async def _short(request: Request, code: str, year: int, today: date, after: tuple[str, uuid.UUID] = facts.START,
                 limit: int | None = None) -> list[ShortTeacher]:
    async with request.app.state.pool.acquire() as conn:
        by_school = await facts.targets(conn, code, year, today)
        return await facts.short_teachers(conn, by_school, year, after, limit)


@router.get("/v1/orgs/{code}/short-of-hours", description=DOC, response_model=ShortOfHours,
            summary="Teachers short of hours (学时不足), with the shortfall per target")
async def short_of_hours(request: Request, principal: Authenticated, today: Today, code: OrgCode, year: Year,
                         limit: Annotated[int, Query(ge=1, le=500)] = 100,
                         cursor: Annotated[str | None, Query(max_length=200)] = None) -> Any:
    _scope(principal, code)
    after = facts.START
    if (parts := decode_cursor(cursor, 2)) is not None:
        try:
            after = (parts[0], uuid.UUID(parts[1]))
        except ValueError:
            raise problem("bad_cursor", "pass next_cursor back unchanged", 422) from None
    page = await _short(request, code, year, today, after, limit + 1)
    items = page[:limit]
    more = len(page) > limit
    return {"org_code": code, "year": year, "label": school_year_label(year),
            "judged_on": today.isoformat(),
            "items": [_item(t) for t in items],
            "next_cursor": encode_cursor(items[-1].school_code, items[-1].teacher_id) if more else None}


def _rows(short: list[ShortTeacher], year: int) -> list[dict[str, Any]]:
    rows = []
    for t in short:
        p = t.targets.policy
        for f in t.shortfalls:
            d = shortfall_data(f, p)
            category = f"{d['category_name']}({f.category})" if f.target == CATEGORY else ""
            rows.append({"teacher_id": t.teacher_id, "school_code": t.school_code, "label": school_year_label(year),
                         "target_label": TARGET_LABELS[f.target], "category_label": category,
                         "required_hours": d["required_hours"], "hours": d["hours"], "short_hours": d["short_hours"],
                         "jurisdiction_code": p.jurisdiction_code if p else None,
                         "policy_version": p.version if p else None})
    return rows


def _filename(code: str, year: int, ext: str) -> dict[str, str]:
    return attachment(f"short-of-hours-{code}-{year}.{ext}", "学时不足教师")


@router.get("/v1/orgs/{code}/short-of-hours.csv", summary="Teachers short of hours as CSV (UTF-8)", description=DOC,
            **download("text/csv", "CSV, UTF-8 with a byte-order mark, one row per teacher and target"))
async def short_of_hours_csv(request: Request, principal: Authenticated, today: Today, code: OrgCode,
                             year: Year) -> Response:
    _scope(principal, code)
    rows = _rows(await _short(request, code, year, today), year)
    return Response(csv_bytes(COLUMNS, rows), media_type=CSV, headers=_filename(code, year, "csv"))


@router.get("/v1/orgs/{code}/short-of-hours.xlsx", summary="Teachers short of hours as an Excel workbook",
            description=DOC, **download(XLSX, "an Excel workbook, one row per teacher and target"))
async def short_of_hours_xlsx(request: Request, principal: Authenticated, today: Today, code: OrgCode,
                              year: Year) -> Response:
    _scope(principal, code)
    rows = _rows(await _short(request, code, year, today), year)
    notes = [["机构", code], ["学年", school_year_label(year)], ["判定日期", today.isoformat()],
             *([line] for line in NOTES)]
    widths = {"teacher_id": 38, "target_label": 22, "category_label": 20}
    body = xlsx_bytes("学时不足教师", COLUMNS, rows, widths=widths, notes=notes)
    return Response(body, media_type=XLSX, headers=_filename(code, year, "xlsx"))


class ReminderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_code: str = Field(min_length=6, max_length=12, pattern=r"^[0-9]+$",
                          description="the org whose subtree is reminded (the caller's own or one inside it)")
    year: int = Field(ge=2000, le=2100, description="school year, e.g. 2023 = 2023学年")


@router.post("/v1/reminders/short-of-hours", status_code=201, description=DOC,
             summary="Publish TeacherShortOfHours reminders for an org's subtree and a year (once per teacher)",
             response_model=Reminders,
             responses={200: {"description": "nothing new to publish: every short teacher was already reminded",
                              "model": Reminders}})
async def remind_short_of_hours(body: ReminderRequest, cmd: Command, today: Today) -> Response:
    require_role(cmd.principal, *REMINDERS)
    require_within(cmd.principal, body.org_code)
    return await cmd.run(lambda uow: remind_short.handle(uow, body.org_code, body.year, today),
                         locks=[remind_short.lock_name(body.org_code, body.year)])
