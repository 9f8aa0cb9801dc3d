"""Look-ups over a service's registered copy of the org tree (a table with `code` and
`parent_code`, kept from enrollment's OrgRegistered): the one recursive query, and the SQL
predicate for "in this org's subtree". The tree's shape rules are pure, in shared/orgs.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from .orgs import MAX_DEPTH, chain, gbt_parent, org_within, subtree_prefix

_UP = """
WITH RECURSIVE up(code, parent_code, depth) AS (
    SELECT code, parent_code, 0 FROM {table} WHERE code = ANY($1::text[])
    UNION ALL SELECT o.code, o.parent_code, up.depth + 1 FROM {table} o JOIN up ON o.code = up.parent_code
    WHERE up.depth < {depth})
SELECT DISTINCT code, parent_code FROM up
"""


def _shape_chain(code: str) -> list[str]:
    out = [code]
    while len(out) < MAX_DEPTH and (parent := gbt_parent(out[-1])) is not None:
        out.append(parent)
    return out


async def parents(conn: asyncpg.Connection, codes: Sequence[str], table: str = "orgs") -> dict[str, str | None]:
    """The recorded parent of each of `codes`, of their GB/T 2260 ancestors, and upward from there,
    in one round trip: enough for `shared.orgs.chain` of any of `codes`."""
    seeds = sorted({c for code in codes for c in _shape_chain(code)})
    rows = await conn.fetch(_UP.format(table=table, depth=MAX_DEPTH), seeds)
    return {r["code"]: r["parent_code"] for r in rows}


async def chains(conn: asyncpg.Connection, codes: Sequence[str], table: str = "orgs") -> dict[str, list[str]]:
    """Each code's way up the tree, [code, parent, …], in one round trip."""
    tree = await parents(conn, codes, table)
    return {code: chain(code, tree) for code in codes}


async def within(conn: asyncpg.Connection, code: str, ancestor: str, table: str = "orgs") -> bool:
    """Whether `code` lies in `ancestor`'s subtree: by GB/T 2260 prefix, or else on the registered
    tree (a school registered under a county whose code does not prefix it)."""
    return org_within(code, ancestor) or ancestor in (await chains(conn, [code], table))[code]


def subtree_sql(column: str, root: str, prefix: str) -> str:
    """SQL: `column` is the org whose code is in placeholder `root` (e.g. "$1") or lies in its
    subtree by GB/T 2260 prefix; `prefix` is the placeholder holding shared.orgs.subtree_prefix of
    the root (NULL for a school or a non-GB code, which covers only itself)."""
    return (f"({column} = {root} OR ({prefix}::text IS NOT NULL AND length({column}) >= 6"
            f" AND starts_with({column}, {prefix}::text)))")


def subtree_codes_sql(root: str, prefix: str, table: str = "orgs") -> str:
    """SQL (a CTE body, `WITH RECURSIVE region(code) AS (...)`): the registered codes in the
    subtree of the org in placeholder `root`, by GB/T 2260 prefix (`prefix` as in subtree_sql)
    or down the registered tree: every code `within` holds in `root`'s subtree, as one set a
    query can join a page of rows against."""
    return (f"SELECT code FROM {table} WHERE {subtree_sql('code', root, prefix)}"
            f" UNION SELECT o.code FROM {table} o JOIN region r ON o.parent_code = r.code")


__all__ = ["chains", "parents", "subtree_codes_sql", "subtree_prefix", "subtree_sql", "within"]
