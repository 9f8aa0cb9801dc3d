"""The assessor: a kernel consumer projection of funding's OWN stream that turns every change of
an account's figures, or of the policy judging it, into FundingAssessed (handlers/assess.py) —
so other services (reporting) keep funding's verdicts in their own tables.

Which accounts an event concerns:
- BudgetDeclared, FundsDisbursed: the org's account of the year;
- FundsAllocated: the allocating org's and the receiver's;
- FundsReversed: the org whose entry is reversed, and for an allocation the receiver too;
- SettlementCalculated: the county's;
- FundingPolicyPublished: every account, of every year, in the jurisdiction's subtree.

Exactly once in effect: the kernel's Applier writes the checkpoint in the same transaction as
the appended assessments, and an assessment is only recorded when it differs from the last one
recorded (funding_assessments, kept inline with the append). A rebuild of this projection
(checkpoints reset, every event replayed) therefore judges the current state again, finds it
already published, and records nothing. It owns no table: funding_assessments belongs to the
inline projection of FundingAssessed (projector/assessments.py), rebuilt from the store.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.funding.handlers import assess
from services.funding.handlers.assess import Cause, Key
from shared import telemetry
from shared.envelope import Envelope
from shared.inline import InlineProjection
from shared.projection import Projection, Traced


def accounts_of(event: Envelope) -> list[Key]:
    """The accounts whose figures `event` moved (none for a policy publication)."""
    d, year = event.data, int(event.data.get("year") or 0)
    if event.type in ("BudgetDeclared", "FundsDisbursed"):
        return [(d["org_code"], year)]
    if event.type == "FundsAllocated":
        return [(d["from_code"], year), (d["to_code"], year)]
    if event.type == "FundsReversed":
        return [(d["org_code"], year)] + ([(d["to_code"], year)] if d.get("to_code") else [])
    if event.type == "SettlementCalculated":
        return [(d["county_code"], year)]
    return []


class AssessorProjection(Projection):
    name = "funding_assessor"
    sources = ("funding",)
    handles = frozenset({"BudgetDeclared", "FundsAllocated", "FundsDisbursed", "FundsReversed",
                         "SettlementCalculated", "FundingPolicyPublished"})
    tables = ()  # funding_assessments is the inline projection's (projector/assessments.py)
    # Consumer contract (shared/contracts.py): the accounts each event touches (affected above).
    reads = {
        "BudgetDeclared": frozenset({"org_code", "year"}),
        "FundsAllocated": frozenset({"from_code", "to_code", "year"}),
        "FundsDisbursed": frozenset({"org_code", "year"}),
        "FundsReversed": frozenset({"org_code", "to_code", "year"}),
        "SettlementCalculated": frozenset({"county_code", "year"}),
        "FundingPolicyPublished": frozenset({"jurisdiction_code"}),
    }

    def __init__(self, inline: Sequence[InlineProjection]) -> None:
        self.inline = inline  # the service's inline projections, which assessments are recorded through

    async def apply(self, conn: asyncpg.Connection, event: Envelope) -> None:
        await self.apply_batch(conn, [Traced(event, telemetry.current_traceparent())])

    async def apply_batch(self, conn: asyncpg.Connection, items: list[Traced]) -> None:
        """A batch is judged once: every event of it reassesses the current state, so judging the
        union of what they touched records exactly what judging them one by one would (the
        first would record the changes, the rest would find nothing new). Each assessment names
        the last event of the batch that concerned it as its cause."""
        accounts: dict[Key, Cause] = {}
        jurisdictions: dict[str, Cause] = {}
        for item in items:
            cause = Cause(item.event, item.traceparent)
            if item.event.type == "FundingPolicyPublished":
                jurisdictions[item.event.data["jurisdiction_code"]] = cause
            for key in accounts_of(item.event):
                accounts[key] = cause
        await assess.handle(conn, self.inline, accounts, jurisdictions)

    async def reset(self, conn: asyncpg.Connection) -> None:
        """Nothing to empty: what was published stays published (see the module docstring)."""
