"""Read model: every published enrollment policy version (domain/policy.py), and the SQL with
which a command reads the versions that may govern a project along with its facts."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from shared.inline import InlineProjection

POLICIES = InlineProjection("enrollment_policies", ("enrollment_policies",))


@POLICIES.handles("EnrollmentPolicyPublished")
async def _published(conn: asyncpg.Connection, stream_id: str, version: int, d: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO enrollment_policies (jurisdiction_code, version, effective_from, published_on, body)
           VALUES ($1, $2, $3, $4, $5)""",
        d["jurisdiction_code"], version, date.fromisoformat(d["effective_from"]), date.fromisoformat(d["published_on"]),
        d)


def policy_rows_sql(organizer_code: str) -> str:
    """A facts-query column: the policy versions of the province of the project organized by
    the SQL expression `organizer_code`, as [[version, body], ...] in publication order. A
    superset of the jurisdictions that may govern it: domain/policy.policy_in_force picks."""
    return f"""(SELECT json_agg(json_build_array(ep.version, ep.body) ORDER BY ep.jurisdiction_code, ep.version)
        FROM enrollment_policies ep WHERE left(ep.jurisdiction_code, 2) = left({organizer_code}, 2)) AS policies"""


async def province_rows(conn: asyncpg.Connection, code: str) -> list[tuple[int, dict[str, Any]]]:
    """The versions that may govern `code` (its province's), for a command or a read."""
    rows = await conn.fetchval(f"SELECT {policy_rows_sql('$1::text')}", code)
    return [(v, body) for v, body in rows or ()]
