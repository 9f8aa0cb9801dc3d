"""What every credits route shares: problem titles (Chinese + English), the Asia/Shanghai
calendar day, scope checks, JSON rendering of hours and ratios, and opaque cursors."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends

from services.credits.domain.errors import Refused
from shared.auth import Principal, can_read
from shared.eventstore import ConcurrencyError
from shared.problems import Problem

ADMINS = ("province_admin", "city_admin", "county_admin", "school_admin")
READERS = (*ADMINS, "auditor", "service")

TITLES = {
    "invalid_hours": "学时无效 Invalid hours",
    "hours_precision": "学时最多一位小数 Hours in tenths",
    "hours_out_of_range": "学时超出范围 Hours out of range",
    "invalid_jurisdiction": "辖区代码无效 Invalid jurisdiction",
    "policy_targets_missing": "缺少学时目标 Targets missing",
    "invalid_cycle": "周期设置无效 Invalid cycle",
    "invalid_policy": "政策设置无效 Invalid policy",
    "invalid_school_year_start": "学年起始日无效 Invalid school year start",
    "duplicate_category": "学时类别重复 Duplicate category",
    "category_minimums_exceed_target": "类别下限超过年度目标 Category minimums exceed target",
    "policy_not_found": "未找到学分政策 Policy not found",
    "teacher_not_found": "教师不存在 Teacher not found",
    "claim_not_found": "申报不存在 Claim not found",
    "claim_exists": "申报已存在 Claim exists",
    "claim_not_pending": "申报已审核 Claim already reviewed",
    "invalid_source": "学时来源无效 Invalid source",
    "earned_in_future": "学时日期在未来 Earned in the future",
    "unknown_category": "学时类别不在政策内 Unknown category",
    "reason_required": "须填写理由 Reason required",
    "entry_not_found": "学时记录不存在 Entry not found",
    "entry_already_revoked": "学时记录已撤销 Entry already revoked",
    "period_not_started": "期间尚未开始 Period not started",
    "no_policy": "无适用学分政策 No policy applies",
    "target_not_met": "未达到学时要求 Target not met",
    "period_required": "须指定学年或周期 Year or cycle required",
    "not_a_cycle": "不是周期起始年 Not a cycle start",
    "certificate_not_found": "证书不存在 Certificate not found",
    "as_of_in_future": "查询日期在未来 as_of in the future",
    "bad_cursor": "分页游标无效 Invalid cursor",
    "rebuild_source_unavailable": "重建数据源不可用 Rebuild source unavailable",
    "forbidden_role": "角色无权操作 Role not permitted",
    "personal_data_in_evidence": "证明材料含个人信息 Personal data in evidence",
}


def problem(code: str, detail: str, status: int = 409) -> Problem:
    return Problem(status, code, TITLES.get(code, "操作被拒绝 Refused"), detail)


def refusal(exc: Refused) -> Problem:
    return problem(exc.code, exc.message, exc.status)


# async on purpose: FastAPI runs a plain `def` dependency in its thread pool, a hop per request.
async def shanghai_today() -> date:  # the calendar day dates are recorded in; tests override it
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


Today = Annotated[date, Depends(shanghai_today)]


def as_of_or_today(as_of: date | None, today: date) -> date:
    if as_of is None:
        return today
    if as_of > today:
        raise problem("as_of_in_future", "as_of cannot be later than today", 422)
    return as_of


def may_read_teacher(p: Principal, teacher_id: str, org_code: str | None) -> bool:
    """A teacher reads only themself; admins and auditors read within their subtree."""
    if p.role == "teacher":
        return p.sub == teacher_id
    if p.role == "service":
        return True
    return p.role in (*ADMINS, "auditor") and org_code is not None and can_read(p, org_code)


def out_of_scope(detail: str = "outside this principal's jurisdiction") -> Problem:
    return Problem(403, "out_of_scope", "超出管辖范围 Out of scope", detail)


def expected_version(if_match: int | None, stream_id: str, version: int) -> int:
    """The version to append at; a stale If-Match becomes the kernel's 412."""
    if if_match is not None and if_match != version:
        raise ConcurrencyError(stream_id, if_match, version)
    return version


def num(v: Decimal | None) -> int | float | None:
    """Hours, credits and ratios as JSON numbers, rendered once at the edge (never accumulated)."""
    if v is None:
        return None
    return int(v) if v == v.to_integral_value() else float(v)


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\n".join(parts).encode()).decode()


def decode_cursor(cursor: str | None, n: int) -> list[str] | None:
    if not cursor:
        return None
    try:
        parts = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode().split("\n")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        parts = []
    if len(parts) != n:
        raise problem("bad_cursor", "pass next_cursor back unchanged", 422)
    return parts
