"""The way up the org tree (shared/orgtree.py over our copy, `org_tree`) and the policy versions
that apply along it: "the nearest policy wins" needs both."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import asyncpg

from services.credits.domain.policies import PolicyBook, policy_from_data
from shared import orgtree

ORG_TREE = "org_tree"
# Stream order within a jurisdiction: a later publication of an `effective_from` corrects it.
_POLICIES = """SELECT version, body FROM policies WHERE jurisdiction_code = ANY($1::text[])
               ORDER BY jurisdiction_code, version"""


async def chains_and_book(conn: asyncpg.Connection, codes: Iterable[str]) -> tuple[dict[str, list[str]], PolicyBook]:
    """Each code's way up the tree, and every policy version of every jurisdiction on those ways
    (each knowing its stream version): two round trips, however many codes."""
    chains = await orgtree.chains(conn, sorted(set(codes)), ORG_TREE)
    rows = await conn.fetch(_POLICIES, sorted({c for chain in chains.values() for c in chain}))
    return chains, PolicyBook(replace(policy_from_data(r["body"]), version=r["version"]) for r in rows)


async def chain_and_book(conn: asyncpg.Connection, code: str) -> tuple[list[str], PolicyBook]:
    chains, book = await chains_and_book(conn, [code])
    return chains[code], book
