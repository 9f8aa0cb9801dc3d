"""Who may see what in the credits service: the roles, and the one scope check on a teacher's
records that routes and handlers share."""

from __future__ import annotations

from shared.auth import Principal, can_read

ADMINS = ("province_admin", "city_admin", "county_admin", "school_admin")
REVIEWERS = (*ADMINS, "auditor")  # read within their subtree
READERS = (*REVIEWERS, "service")


def may_read_teacher(p: Principal, teacher_id: str, org_code: str | None) -> bool:
    """A teacher reads only themself; admins and auditors read within their subtree."""
    if p.role == "teacher":
        return p.sub == teacher_id
    if p.role == "service":
        return True
    return p.role in REVIEWERS and org_code is not None and can_read(p, org_code)
