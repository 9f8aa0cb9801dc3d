"""The credits service's problem titles (Chinese + English) by code: the kernel uses them for a
domain `Refused` (ServiceSpec.titles), and `problem` for what routes and handlers answer
themselves (who may act, what does not exist)."""

from __future__ import annotations

from shared.problems import Problem

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
    "category_map_unknown_category": "学时类别映射到政策未定义的类别 Category map names an undefined category",
    "category_minimums_exceed_target": "类别下限超过年度目标 Category minimums exceed target",
    "policy_not_found": "未找到学分政策 Policy not found",
    "org_not_found": "机构不存在 Org not found",
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
    "not_a_cycle": "不是周期起始年 Not a cycle start",
    "certificate_not_found": "证书不存在 Certificate not found",
    "as_of_in_future": "查询日期在未来 as_of in the future",
    "bad_cursor": "分页游标无效 Invalid cursor",
    "rebuild_source_unavailable": "重建数据源不可用 Rebuild source unavailable",
    "forbidden_role": "角色无权操作 Role not permitted",
    "out_of_scope": "超出管辖范围 Out of scope",
    "personal_data_in_evidence": "证明材料含个人信息 Personal data in evidence",
}


def problem(code: str, detail: str, status: int = 409) -> Problem:
    return Problem(status, code, TITLES.get(code, "操作被拒绝 Refused"), detail)
