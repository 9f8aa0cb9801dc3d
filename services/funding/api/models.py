"""Funding's response bodies as typed models for /openapi.json (issue 16). `year` here is always a
budget year (预算年度, the fiscal year: 1 January – 31 December), named by `year_kind`. Ledger
commands answer the event they recorded; those models document it (the fuzz holds each 2xx to
its model) and allow fields a later version may add."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.paging import Page
from shared.yearnames import BudgetYearNamed

Fen = int
BudgetYear = Field(description="预算年度 budget year")


class Allocated(BaseModel):
    allocation_id: uuid.UUID
    from_code: str
    to_code: str
    year: int = BudgetYear
    amount_fen: Fen


class AllocationView(Allocated):
    reversed: bool
    version: int


class Disbursed(BaseModel):
    disbursement_id: uuid.UUID
    org_code: str
    year: int = BudgetYear
    project_id: uuid.UUID | None
    host_id: uuid.UUID | None
    amount_fen: Fen
    purpose: str


class DisbursementView(Disbursed):
    reversed: bool
    version: int


class Reversed(BaseModel):
    reversal_id: uuid.UUID
    entry_id: uuid.UUID
    entry_kind: Literal["allocation", "disbursement"]
    org_code: str
    to_code: str | None
    year: int = BudgetYear
    project_id: uuid.UUID | None
    host_id: uuid.UUID | None
    amount_fen: Fen
    purpose: str
    reason: str


class Settled(BaseModel):
    project_id: uuid.UUID
    county_code: str
    participants: int
    fee_per_participant_fen: Fen
    amount_fen: Fen
    previously_settled_fen: Fen
    delta_fen: Fen
    recorded: bool = Field(description="false: already settled with these figures, nothing recorded")


class SettlementRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    settlement_id: uuid.UUID
    county_code: str
    year: int | None = BudgetYear
    host_id: uuid.UUID | None
    amount_fen: Fen
    participants: int | None
    fee_per_participant_fen: Fen | None
    previously_settled_fen: Fen | None


class Settlements(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: uuid.UUID
    items: list[SettlementRow]
    total_fen: Fen


class ProjectSpending(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: uuid.UUID
    code: str | None
    name: str | None
    host_id: uuid.UUID | None
    spent_fen: Fen
    participants: int
    spent_per_participant_fen: Fen | None = Field(description="ROUND_HALF_EVEN; null without participants")


class ProjectSpendingPage(Page[ProjectSpending]):
    model_config = ConfigDict(extra="forbid")


class LedgerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry_id: uuid.UUID
    kind: str
    ledger: str
    org_code: str
    to_code: str | None
    year: int = BudgetYear
    project_id: uuid.UUID | None
    host_id: uuid.UUID | None
    amount_fen: Fen
    purpose: str | None
    reverses: uuid.UUID | None
    detail: dict[str, Any] | None


class LedgerEntryPage(Page[LedgerEntry]):
    model_config = ConfigDict(extra="forbid")


class OrgFunding(BudgetYearNamed):
    """An org's funding for a budget year: its budget, the money's movements, the ratios and the
    verdicts of the policy in force, and its subtree's roll-up."""

    model_config = ConfigDict(extra="forbid")
    org_code: str
    name: str | None
    kind: str | None
    year: int = BudgetYear
    as_of: date
    budget: dict[str, Any] = Field(description="declared, version and the three declared figures (fen)")
    received_fen: Fen
    allocated_fen: Fen
    spent_fen: Fen
    available_fen: Fen
    ratios: dict[str, str | None]
    rounding: str
    policy: dict[str, Any] | None
    rules: list[dict[str, Any]]
    compliant: bool | None
    status: Literal["undeclared", "compliant", "not_compliant", "not_judged"]
    status_label: str
    subtree: dict[str, Any]
