"""The one judgement of a funding account, as funding publishes it: read over HTTP (GET
/v1/funding/orgs, api/readmodel.verdicts) and recorded as FundingAssessed (handlers/assess.py).
Both are built by `assess` below, so what is served and what is published never differ.

Figures come from the guard table (funding_accounts), the org's kind from the directory, the
policy from funding_policies: domain/compliance.judge under the policy of the org's nearest
jurisdiction (domain/policy.applicable) in force on the judging day — by default 31 December of
the account's year, as a year's accounts are judged at its close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from services.funding.domain import compliance, policy
from services.funding.domain.compliance import Figures
from services.funding.domain.policy import FundingPolicy
from shared import orgtree

FIGURES = ("public_funds_budget_fen", "payroll_fen", "training_budget_fen", "received_fen", "allocated_fen",
           "spent_fen")


def year_end(year: int) -> date:
    """The day a year's accounts are judged on unless a reader asks for another."""
    return date(year, 12, 31)


def figures(row: asyncpg.Record | None) -> Figures:
    """A funding_accounts row as the domain's figures (no row: nothing declared, nothing moved)."""
    if row is None:
        return Figures()
    return Figures(**{k: row[k] for k in FIGURES}, declared=row["budget_version"] > 0)


@dataclass(frozen=True)
class Policies:
    """Every published version, by jurisdiction, and the policy stream's version of each."""

    versions: dict[str, list[FundingPolicy]]
    stream_version: dict[tuple[str, date], int]

    def version_of(self, p: FundingPolicy) -> int:
        return self.stream_version[(p.jurisdiction_code, p.effective_from)]


async def policies(conn: asyncpg.Connection) -> Policies:
    # A handful of rows (one per jurisdiction and version): read them all.
    versions: dict[str, list[FundingPolicy]] = {}
    stream_version: dict[tuple[str, date], int] = {}
    for r in await conn.fetch("SELECT * FROM funding_policies"):
        p = FundingPolicy(
            r["jurisdiction_code"], r["effective_from"], r["school_public_funds_share"], r["school_share_basis"],
            r["district_payroll_share_min"], r["district_payroll_share_max"], r["pass_down_min"], dict(r["sources"]))
        versions.setdefault(p.jurisdiction_code, []).append(p)
        stream_version[(p.jurisdiction_code, p.effective_from)] = r["version"]
    return Policies(versions, stream_version)


@dataclass(frozen=True)
class Judged:
    policy: FundingPolicy | None
    rules: list[dict[str, Any]]
    compliant: bool | None


def judged(kind: str | None, f: Figures, chain: list[str], known: Policies, day: date) -> Judged:
    """The verdicts on an org of `kind` (None: not in the directory, so no rule applies) with
    figures `f`, under the policy of its nearest jurisdiction along `chain` in force on `day`."""
    in_force = policy.applicable(chain, known.versions, day)
    rules = compliance.judge(kind or "", f, in_force)
    return Judged(in_force, rules, compliance.compliant(rules))


def assessment(row: asyncpg.Record, chain: list[str], known: Policies, day: date) -> dict[str, Any]:
    """One account (a funding_accounts row with the org's `kind`) judged on `day`: its figures,
    the display ratios, the policy used with the policy stream's version, every rule's verdict
    and the overall flag. JSON values only, so a published copy compares equal to a fresh one."""
    f = figures(row)
    verdict = judged(row["kind"], f, chain, known, day)
    p = verdict.policy
    status = compliance.status(f.declared, verdict.compliant)
    return {
        "org_code": row["org_code"], "kind": row["kind"], "declared": f.declared,
        **{k: getattr(f, k) for k in FIGURES}, **compliance.ratios(f),
        "policy": None if p is None else {"jurisdiction_code": p.jurisdiction_code,
                                          "effective_from": p.effective_from.isoformat(),
                                          "version": known.version_of(p)},
        "rules": verdict.rules, "compliant": verdict.compliant,
        "status": status, "status_label": compliance.STATUS_LABELS[status]}


async def assess(conn: asyncpg.Connection, rows: Sequence[asyncpg.Record],
                 as_of: date | None = None) -> list[dict[str, Any]]:
    """`assessment` of each account row (columns of funding_accounts, `kind` of orgs), in order,
    judged on `as_of` or else at the close of the row's year; chains and policies read once."""
    chains = await orgtree.chains(conn, [r["org_code"] for r in rows])
    known = await policies(conn)
    return [assessment(r, chains[r["org_code"]], known, as_of or year_end(r["year"])) for r in rows]
