"""The bilingual problem titles (中文 English) of every code the funding service answers with,
and the one helper for the problems that are not a domain refusal (a missing org or project,
a bad cursor). A domain `Refused` gets its title here through ServiceSpec.titles."""

from __future__ import annotations

from shared.problems import Problem

TITLES = {
    # who and what (403/404)
    "forbidden_role": "角色无权操作 Role not permitted", "out_of_scope": "超出管辖范围 Out of scope",
    "org_not_found": "机构未登记 Org not found", "project_not_found": "项目不存在 Project not found",
    "host_not_found": "承办单位未登记 Host not found", "allocation_not_found": "拨款记录不存在 Allocation not found",
    "disbursement_not_found": "支出记录不存在 Disbursement not found", "budget_not_found": "未申报预算 No budget",
    "policy_not_found": "未发布经费政策 No funding policy",
    # the balance (domain/accounts.py)
    "insufficient_funds": "培训经费不足 Insufficient training funds",
    "budget_below_committed": "预算低于已使用额 Budget below committed funds",
    "allocation_committed": "下拨经费已被使用 Allocated funds already committed",
    # the ledger (domain/ledger.py, domain/settlement.py)
    "already_reversed": "已冲销 Already reversed", "outside_subtree": "不在下级机构范围 Not below the allocating org",
    "host_mismatch": "承办单位与项目不符 Host does not run the project",
    "purpose_required": "须注明用途 Purpose required", "reason_required": "须注明原因 Reason required",
    "invalid_amount": "金额无效 Invalid amount", "not_a_county": "结算以县(区)为单位 Settlement is per county",
    "no_participants": "无报到学员 No participants checked in",
    "project_without_host": "项目无承办单位 Project has no host",
    # policies (domain/policy.py)
    "invalid_share": "比例无效 Invalid share", "invalid_band": "比例区间无效 Invalid band",
    "empty_policy": "政策未设比例 Policy sets no share", "invalid_basis": "计提基数无效 Invalid basis",
    "invalid_sources": "依据无效 Invalid sources", "invalid_jurisdiction": "学校不制定政策 Schools set no policy",
    # reads
    "bad_cursor": "分页游标无效 Invalid cursor",
}


def problem(code: str, detail: str, status: int = 409) -> Problem:
    return Problem(status, code, TITLES[code], detail)
