"""What every funding route shares: problem titles, money and year types, org look-ups, and
who may act for an org.

Who may act (the issue's authorization rules, one helper each):
- an org's own budget, disbursements and their reversals: that org's administrator — the admin
  role of its kind (school_admin for a school, county_admin for a county, ...) with `org` equal
  to its code. An admin higher up reads it but cannot act for it;
- allocations: the allocating org's administrator, to an org below it on the tree;
- reads: admins and auditors within their subtree, and `service`.
Checks run in a fixed order: role (403 forbidden_role) → scope by code (403 out_of_scope) →
existence (404) → being the org's own admin (403 forbidden_role), so a caller learns nothing
about orgs outside their jurisdiction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from services.funding.domain.errors import Refused
from services.funding.domain.ledger import ADMIN_OF, MAX_FEN, OrgFacts
from shared.auth import Principal
from shared.commands import CommandContext
from shared.eventstore import ConcurrencyError
from shared.problems import Problem

ADMINS = tuple(ADMIN_OF.values())
READERS = (*ADMINS, "auditor", "service")

# Money is JSON integers only: StrictInt turns away 1.5, "100", 1e3 (a float once parsed) and
# booleans with 422; the cap keeps every amount exact in JSON and far from bigint overflow.
Fen = Annotated[StrictInt, Field(gt=0, lt=MAX_FEN, description="integer fen, 0 < n < 10^15")]
FenOrZero = Annotated[StrictInt, Field(ge=0, lt=MAX_FEN, description="integer fen, 0 ≤ n < 10^15")]
Year = Annotated[int, Field(ge=2000, le=2100)]
StrictYear = Annotated[StrictInt, Field(ge=2000, le=2100)]
OrgCode = Annotated[str, Field(min_length=6, max_length=12, pattern=r"^[0-9]+$")]

TITLES = {
    "org_not_found": "机构未登记 Org not found", "project_not_found": "项目不存在 Project not found",
    "host_not_found": "承办单位未登记 Host not found", "allocation_not_found": "拨款记录不存在 Allocation not found",
    "disbursement_not_found": "支出记录不存在 Disbursement not found",
    "insufficient_funds": "培训经费不足 Insufficient training funds",
    "budget_below_committed": "预算低于已使用额 Budget below committed funds",
    "allocation_committed": "下拨经费已被使用 Allocated funds already committed",
    "already_reversed": "已冲销 Already reversed", "outside_subtree": "不在下级机构范围 Not below the allocating org",
    "host_mismatch": "承办单位与项目不符 Host does not run the project",
    "purpose_required": "须注明用途 Purpose required", "reason_required": "须注明原因 Reason required",
    "invalid_amount": "金额无效 Invalid amount", "amount_out_of_range": "金额超出范围 Amount out of range",
    "invalid_share": "比例无效 Invalid share", "invalid_band": "比例区间无效 Invalid band",
    "empty_policy": "政策未设比例 Policy sets no share", "invalid_basis": "计提基数无效 Invalid basis",
    "invalid_sources": "依据无效 Invalid sources", "invalid_jurisdiction": "学校不制定政策 Schools set no policy",
    "not_a_county": "结算以县(区)为单位 Settlement is per county",
    "no_participants": "无报到学员 No participants checked in",
    "project_without_host": "项目无承办单位 Project has no host", "budget_not_found": "未申报预算 No budget",
    "bad_cursor": "分页游标无效 Invalid cursor", "ledger_conflict": "账目已变更 Ledger changed",
}


def problem(code: str, detail: str, status: int = 409, **extra: Any) -> Problem:
    return Problem(status, code, TITLES.get(code, "操作被拒绝 Refused"), detail, **extra)


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """Domain refusals (also those raised by projector guards) → problem+json."""
    try:
        yield
    except Refused as exc:
        raise problem(exc.code, exc.message, exc.status) from None
    except asyncpg.NumericValueOutOfRangeError:  # a running total beyond bigint: refuse, never 500
        raise problem("amount_out_of_range", "the totals would leave the representable range", 422) from None
    except asyncpg.CheckViolationError:  # the table's backstop behind the guards: a race we lost
        raise problem("ledger_conflict", "the accounts changed meanwhile; reload and retry") from None


async def lock_stream(conn: asyncpg.Connection, stream_id: str) -> None:
    """Serialise commands on one aggregate for the rest of the transaction, before it is loaded:
    the second of two racing commands then decides on the first one's outcome (a clean
    `already_reversed`) instead of failing on the version check after touching the accounts.
    Taken before any account row, and only one per command, so lock order stays acyclic."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 23))", stream_id)


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def expected_version(cmd: CommandContext, stream_id: str, version: int) -> int:
    """The version to append at; a stale If-Match becomes the kernel's 412."""
    wanted = cmd.if_match()
    if wanted is not None and wanted != version:
        raise ConcurrencyError(stream_id, wanted, version)
    return version


async def load_org(conn: asyncpg.Connection, code: str) -> OrgFacts:
    row = await conn.fetchrow("SELECT code, kind, parent_code FROM orgs WHERE code = $1", code)
    if row is None:
        raise problem("org_not_found", f"org {code} is not registered", 404)
    return OrgFacts(row["code"], row["kind"], row["parent_code"])


async def ancestors(conn: asyncpg.Connection, code: str) -> list[str]:
    """The org's ancestors on the tree, nearest first (the org itself excluded)."""
    rows = await conn.fetch(
        """WITH RECURSIVE up(code, parent_code, depth) AS (
               SELECT code, parent_code, 0 FROM orgs WHERE code = $1
               UNION ALL SELECT o.code, o.parent_code, up.depth + 1 FROM orgs o JOIN up ON o.code = up.parent_code
                   WHERE up.depth < 10)
           SELECT code FROM up WHERE depth > 0 ORDER BY depth""", code)
    return [r["code"] for r in rows]


def require_org_admin(principal: Principal, org: OrgFacts) -> None:
    if principal.role != ADMIN_OF.get(org.kind) or principal.org != org.code:
        raise Problem(403, "forbidden_role", "角色无权操作 Role not permitted",
                      f"only the administrator of {org.kind} {org.code} ({ADMIN_OF.get(org.kind)}) may do this")


def subtree_clause(column: str, root: int, prefix: int) -> str:
    """SQL: `column` lies in the subtree of the code in parameter $root, by GB/T 2260 prefix
    (parameter $prefix: shared.auth.subtree_prefix of the root) — the same rule as auth scoping."""
    return (f"({column} = ${root} OR (${prefix}::text IS NOT NULL AND length({column}) >= 6"
            f" AND starts_with({column}, ${prefix}::text)))")
