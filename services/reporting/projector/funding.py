"""Funding's verdicts, as funding publishes them: one FundingAssessed per change of an org's
account or of the policy judging it (services/funding/events.py), carrying the figures, the
ratios, each rule's verdict and the policy version used. Reporting keeps the latest per org and
year and knows nothing of the rules: a later stream version replaces an earlier one, so a
redelivered old assessment never overwrites a newer one."""

from __future__ import annotations

from typing import Any

import asyncpg

from shared.envelope import Envelope
from shared.projection import Projection

_UPSERT = """
INSERT INTO fund_assessments (org_code, year, version, assessment) VALUES ($1, $2, $3, $4)
ON CONFLICT (org_code, year) DO UPDATE SET version = EXCLUDED.version, assessment = EXCLUDED.assessment
WHERE fund_assessments.version < EXCLUDED.version
"""


class FundingProjection(Projection):
    name = "reporting_funding"
    sources = ("funding",)
    handles = frozenset({"FundingAssessed"})
    # Consumer contract (shared/contracts.py): the verdict is kept whole; report_funding.py reads these.
    reads = {"FundingAssessed": frozenset({
        "org_code", "year", "kind", "declared", "public_funds_budget_fen", "payroll_fen", "training_budget_fen",
        "allocated_fen", "spent_fen", "funding_ratio", "payroll_share", "pass_down_share", "compliant",
        "policy", "policy.jurisdiction_code", "policy.effective_from", "policy.version",
        "rules", "rules.rule", "rules.ratio", "rules.threshold_min", "rules.threshold_max", "rules.compliant"})}
    tables = ("fund_assessments",)

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        d: dict[str, Any] = event.data
        await conn.execute(_UPSERT, d["org_code"], int(d["year"]), event.stream_version, d)

    async def reset(self, conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE fund_assessments")
