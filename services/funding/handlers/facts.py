"""What the funding handlers share: the locks, in their one global order, and the facts query
of orgs and their accounts.

Lock order inside a command (so no two commands wait on each other in a cycle):
1. the aggregate's stream (`lock_stream`, an advisory transaction lock), at most one;
2. account rows (`locked_accounts`, SELECT … FOR UPDATE inside the facts query), an allocating
   org's row before the row of the org below it: tree order, top down. Before the domain has
   judged a command only the one row it draws on is locked (an allocation that names its orgs
   upwards locks nothing out of order); the receiver's row is locked by the guard's write, after
   the domain found it below the source; a reversal locks a recorded allocation's two rows,
   which went down the tree when it was made (org parents are fixed).
The guard's own writes come last in the command (shared/inline.py), after the append.
Under READ COMMITTED a row locked FOR UPDATE is returned as the previous holder committed it,
so the domain judges the balance as it stands until this command commits.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.funding.domain.accounts import Account
from services.funding.domain.ledger import Budget, OrgFacts
from services.funding.titles import problem
from shared.problems import Problem


def org_not_found(code: str) -> Problem:
    """Asked after role and scope, so nobody learns what lies outside their jurisdiction."""
    return problem("org_not_found", f"org {code} is not registered", 404)


async def lock_stream(conn: asyncpg.Connection, stream_id: str) -> None:
    """Serialise commands on one aggregate before it is loaded: the second of two racing commands
    then decides on the first one's outcome (a clean `already_reversed`, an identical budget)
    instead of failing on the version check."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 23))", stream_id)


def locked_accounts(codes: str = "$3", year: str = "$2") -> str:
    """A CTE `locked`: the accounts of `codes` (a text[] placeholder) for `year` (an SQL
    expression), locked in the order the codes are listed (ORDER BY runs before the row locks)."""
    return f"""locked AS (
    SELECT * FROM funding_accounts WHERE org_code = ANY({codes}::text[]) AND year = {year}
    ORDER BY array_position({codes}::text[], org_code) FOR UPDATE)"""


# The columns every facts query has: the registered orgs of $1 (text[]) and the locked accounts.
ORGS_AND_ACCOUNTS = """(SELECT jsonb_agg(to_jsonb(o)) FROM orgs o WHERE o.code = ANY($1::text[])) AS orgs,
       (SELECT jsonb_agg(to_jsonb(l)) FROM locked l) AS accounts"""


class Facts:
    """One facts-query row: orgs by code, accounts by code (zeros where no row exists yet)."""

    def __init__(self, row: asyncpg.Record, year: int) -> None:
        self.row = row
        self.year = year
        self._orgs = {o["code"]: o for o in row["orgs"] or []}
        self._accounts = {a["org_code"]: a for a in row["accounts"] or []}

    def org(self, code: str) -> OrgFacts:
        o = self._orgs.get(code)
        if o is None:
            raise org_not_found(code)
        return OrgFacts(o["code"], o["kind"], o["parent_code"])

    def account(self, code: str) -> Account:
        a: dict[str, Any] = self._accounts.get(code) or {}
        return Account(code, self.year, **{k: int(a.get(k, 0)) for k in (
            "training_budget_fen", "received_fen", "allocated_fen", "spent_fen")})

    def budget(self, code: str) -> tuple[Budget | None, int]:
        """The org's declared budget and the budget stream's version (0: none declared yet)."""
        a = self._accounts.get(code)
        if a is None or a["budget_version"] == 0:
            return None, 0
        return Budget(code, self.year, a["public_funds_budget_fen"], a["payroll_fen"],
                      a["training_budget_fen"]), int(a["budget_version"])


_LOAD = f"WITH {locked_accounts()} SELECT {ORGS_AND_ACCOUNTS}"


async def load(conn: asyncpg.Connection, year: int, orgs: list[str], lock: list[str]) -> Facts:
    """The registered orgs of `orgs`, and the accounts of `lock` for `year`, locked in the order
    listed. Lock only rows the command has a right to lock in that order: an account is locked
    before the domain has judged the command, so a command naming its orgs the wrong way round
    (an allocation upwards) must not lock them the wrong way round."""
    return Facts(await conn.fetchrow(_LOAD, orgs, year, lock), year)
