"""The bilingual problem titles (中文 English) of every code the enrollment service answers with,
and the one helper for the few problems that are not a domain refusal (a report of invalid
rows, a file too large). A domain `Refused` gets its title here through ServiceSpec.titles."""

from __future__ import annotations

from typing import Any

from shared.problems import Problem

TITLES = {
    # who and what (403/404)
    "out_of_scope": "超出管辖范围 Out of scope", "forbidden_role": "角色无权操作 Role not permitted",
    "self_approval": "不得自行审核 Cannot approve own plan",
    "project_not_found": "项目不存在 Project not found", "teacher_not_found": "教师未登记 Teacher not found",
    "enrollment_not_found": "报名记录不存在 Enrollment not found", "org_not_found": "机构未登记 Org not found",
    "host_not_found": "承办单位未登记 Host not found", "region_not_found": "地区不存在 Region not found",
    # the org tree, hosts and the roster
    "invalid_org_code": "机构代码无效 Invalid org code", "invalid_parent": "上级机构不符 Invalid parent org",
    "parent_not_found": "上级机构未登记 Parent org not registered",
    "org_immutable": "机构类型与上级不可更改 Org kind and parent are fixed",
    "province_not_found": "省份未登记 Province not registered",
    "host_immutable": "承办单位所属省份不可更改 Host province is fixed",
    "teacher_exists": "教师已登记 Teacher already registered", "school_not_found": "学校未登记 School not registered",
    "invalid_teacher": "教师信息有误 Invalid teacher data", "invalid_national_id": "教师信息有误 Invalid teacher data",
    "csv_not_utf8": "导入文件无效 Invalid import file", "csv_empty": "导入文件无效 Invalid import file",
    "csv_bad_header": "导入文件无效 Invalid import file", "csv_malformed": "导入文件无效 Invalid import file",
    "csv_too_many_rows": "导入文件无效 Invalid import file", "csv_missing_file": "缺少文件 Missing file",
    "pii_key_missing": "未配置身份证号加密密钥 PII key not configured",
    # projects: drafting and the plan (004 §2.3, §3.2)
    "project_exists": "项目已存在 Project exists", "project_code_exists": "项目编号已存在 Project code taken",
    "bad_level": "项目级别无效 Invalid level", "ends_before_start": "结束日期早于开始日期 Ends before it starts",
    "year_mismatch": "年度与开班日期不符 Year mismatch", "hours_out_of_range": "学时超出范围 Hours out of range",
    "practical_ratio_out_of_range": "实践课程比例无效 Practical ratio out of range",
    "module_hours_invalid": "模块学时无效 Invalid module hours",
    "cross_year_mismatch": "跨年度设置不符 Cross-year mismatch",
    "first_year_end_required": "缺少第一年度结束日期 First-year end required",
    "bad_first_year_end": "第一年度结束日期无效 Invalid first-year end",
    "ends_after_dec_20": "单年度项目须在12月20日前完成 Must end by 20 December",
    "first_year_after_nov_30": "跨年度项目第一年度须在11月30日前完成 First year must end by 30 November",
    "exceeds_two_years": "跨年度项目须在两年内完成 Must finish within two years",
    "plan_late": "实施方案须在开班前10天报送 Plan submitted too late",
    "practical_share_low": "实践性课程比例不足 Practical share too low",
    "ethics_module_missing": "缺少师德模块 Ethics module missing",
    # projects: lifecycle, quotas, bulletins
    "invalid_transition": "状态不允许 Invalid transition", "not_approved": "项目未审核通过 Not approved",
    "not_open": "项目未开放遴选 Not open", "already_started": "项目已开班 Already started",
    "reason_required": "须说明原因 Reason required", "project_inactive": "项目已结束或撤销 Project inactive",
    "bad_places": "名额无效 Invalid places", "quota_below_used": "名额少于已选派人数 Quota below used",
    "region_kind_invalid": "地区类型无效 Invalid region kind",
    "region_outside_organizer": "地区不在主办单位辖区 Region outside organizer",
    "bad_bulletin": "简报无效 Invalid bulletin", "published_in_future": "发布日期晚于今天 Published in the future",
    "bulletin_exists": "简报期号已存在 Bulletin exists",
    # issue 20: a city's split of its places (004 §2.2), close-out materials (004 §3.3)
    "over_split": "分配名额超出本市指标 Split exceeds the city's quota",
    "region_not_under_city": "该地区不是本市所辖县区 Not a county of this city",
    "quota_source_conflict": "该地区名额已由另一方分配 Places allocated by another level",
    "bad_material_kind": "总结材料类型无效 Invalid material kind", "bad_material": "总结材料无效 Invalid material",
    # selection and enrollment (004 §3.1, §4.1; 002 §4.1.3; 004 §2.4)
    "project_not_open": "项目未开放 Project not open", "project_not_started": "项目未开班 Project not started",
    "teacher_not_in_region": "教师不在该地区 Not in region", "no_quota": "该地区无参训指标 No quota",
    "quota_exhausted": "配额已满 Quota exhausted", "national_limit": "每年限参加一项国培 One national project a year",
    "window_closed": "遴选报送期限已过 Nomination window closed",
    "attendance_short": "出勤不足 Attendance below the required share",
    "code_invalid": "报到码无效 Invalid check-in code", "code_expired": "报到码已过期 Check-in code expired",
    "code_foreign": "非本人项目的报到码 Check-in code of another project",
    "code_replayed": "报到码已使用 Check-in code already used",
    "not_a_vacancy": "非缺额名额 Not a no-show's place", "vacancy_filled": "缺额已补充 Vacancy already filled",
    "not_no_show": "非未报到记录 Not a no-show", "already_excused": "已有特殊情况说明 Already excused",
    "invalid_jurisdiction": "管辖区代码无效 Invalid jurisdiction code", "invalid_policy": "政策参数无效 Invalid policy",
    "policy_not_found": "无适用政策 No policy in force",
    "barred": "三年内不得参加国培 Barred", "category_repeat": "已参加过同类国培 Category already attended",
    "already_nominated": "已报送 Already nominated", "not_same_region": "须为同一地区教师 Not the same region",
    "already_checked_in": "已报到 Already checked in", "not_checked_in": "尚未报到 Not checked in",
    "session_out_of_range": "日期不在培训期内 Session outside the project",
    "invalid_status": "出勤状态无效 Invalid status", "invalid_kind": "考核类型无效 Invalid assessment kind",
    "assessment_failed": "考核不合格 Assessment failed",
    "final_assessment_required": "须通过结业考核 Final assessment required",
    "already_evaluated": "已评价 Already evaluated", "invalid_score": "评分无效 Invalid score",
    # issue 20: leave (请假, 002 §4.1.3) and check-in after the project
    "leave_not_approved": "请假未获批准 Leave not approved", "leave_exists": "该日已有请假申请 Leave already requested",
    "leave_not_found": "无此请假申请 Leave request not found", "leave_decided": "请假申请已审批 Leave already decided",
    "invalid_requester": "请假申请人无效 Invalid requester",
    "project_ended": "项目已结束,不能报到 Project ended; check-in closed",
    # requests and files
    "invalid_rows": "导入数据有误 Invalid rows", "duplicate_row": "文件内重复 Duplicate row",
    "bad_csv": "CSV 无效 Invalid CSV",
    "bad_cursor": "分页游标无效 Invalid cursor", "payload_too_large": "文件过大 Payload too large",
    "unsupported_media_type": "不支持的媒体类型 Unsupported media type",
    "export_too_large": "导出数据过多 Too many rows to export",
}


# The rules of a nomination as the eligibility preview names them (domain/nomination.py RULES).
RULE_TITLES = {
    "project_open": "项目开放遴选 Project open for selection",
    "teacher_in_region": "教师属本地区 Teacher in the region",
    "quota": "本地区有参训指标 Region has a quota",
    "vacancy": "补充选派缺额 Fills a no-show's place",
    "window": "遴选报送期限 Nomination window",
    "bar": "国培禁参期 Bar from national projects",
    "category_repeat": "同类国培不得重复选派 No repeat of a national category",
    "national_limit": "年度限参加一项国培 One national project a year",
    "already_nominated": "本项目尚未报送 Not yet nominated for this project",
    "places_left": "剩余名额 Places left",
}


def problem(code: str, detail: str, status: int, **extra: Any) -> Problem:
    """A problem that is no domain decision (a file's report of invalid rows, a bad cursor)."""
    return Problem(status, code, TITLES[code], detail, **extra)
