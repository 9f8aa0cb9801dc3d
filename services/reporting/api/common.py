"""What every reporting route shares: who may read what, problems with stable codes, cursors.

Scope (DOMAIN.md "an administrator acts only inside their own subtree"):
- province / city / county / school admins and auditors read the subtree of their `org`;
- a host (`org` = host id) reads only its own projects' figures, in every region;
- `service` reads everything; teachers read no reports;
- finance (财务) reads the funding report alone, over the subtree of its `org` (issue 20).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth import Principal, can_read, require_role
from shared.paging import BAD_CURSOR, cursor_text, page_cursor
from shared.problems import Problem

ADMIN_READERS = ("province_admin", "city_admin", "county_admin", "school_admin", "auditor")
READERS = ("service", "host", *ADMIN_READERS)
TITLES = {
    "out_of_scope": "超出管辖范围 Out of scope",
    "project_not_found": "项目不存在 Project not found",
    "region_not_found": "地区不存在 Region not found",
    "bad_cursor": "分页游标无效 Invalid cursor",
    "rebuild_source_unavailable": "事件源不可用 Event source unavailable",
}


def problem(code: str, detail: str, status: int) -> Problem:
    return Problem(status, code, TITLES[code], detail)


@dataclass(frozen=True)
class Scope:
    role: str
    region: str | None  # the org whose subtree is readable; None: no region limit
    host: str | None  # the host whose projects alone are readable; None: any host

    def region_or_own(self, region_code: str | None) -> str | None:
        """The region to report on: the one asked for (if inside the scope) or the reader's own."""
        if region_code is None:
            return self.region
        if self.region is not None and not can_read(Principal("", self.role, self.region), region_code):
            raise problem("out_of_scope", f"region {region_code} is outside this reader's jurisdiction", 403)
        return region_code


def scope_of(p: Principal, *roles: str) -> Scope:
    require_role(p, *(roles or READERS))
    if p.role == "service":
        return Scope(p.role, None, None)
    if p.role == "host":
        return Scope(p.role, None, p.org or "-")  # a host token without org sees nothing
    if not p.org:
        raise problem("out_of_scope", "the token names no org", 403)
    return Scope(p.role, p.org, None)


def encode_cursor(sort: str | None) -> str | None:
    return None if sort is None else page_cursor(sort)


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    sort = cursor_text(cursor)
    if not sort or not sort.isprintable() or len(sort) > 300:  # what we hand out: codes and ids
        raise problem("bad_cursor", BAD_CURSOR, 422)
    return sort
