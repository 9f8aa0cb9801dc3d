"""The data of every event funding records, one pydantic model per type and version (see
shared/eventschemas.py; the registry in events.py gates every recorded event on them).

Money in integer fen, shares and ratios as decimal strings, dates ISO strings (events.py lists the
contracts in prose)."""

from __future__ import annotations

from typing import Literal

from shared.eventschemas import Day, EventData


class FundingPolicyPublishedV1(EventData):
    jurisdiction_code: str
    effective_from: Day
    school_share_basis: str
    school_public_funds_share: str | None = None
    district_payroll_share_min: str | None = None
    district_payroll_share_max: str | None = None
    pass_down_min: str | None = None
    sources: dict[str, str] = {}  # rule → the seed citation


class BudgetDeclaredV1(EventData):
    org_code: str
    year: int
    public_funds_budget_fen: int
    payroll_fen: int
    training_budget_fen: int


class FundsAllocatedV1(EventData):
    allocation_id: str
    from_code: str
    to_code: str
    year: int
    amount_fen: int


class FundsDisbursedV1(EventData):
    disbursement_id: str
    org_code: str
    year: int
    project_id: str | None = None
    host_id: str | None = None
    amount_fen: int
    purpose: str | None = None


class FundsReversedV1(EventData):
    reversal_id: str
    entry_id: str
    entry_kind: Literal["allocation", "disbursement"]
    org_code: str
    to_code: str | None = None
    year: int
    project_id: str | None = None
    host_id: str | None = None
    amount_fen: int  # the amount reversed, positive
    purpose: str | None = None
    reason: str


class SettlementCalculatedV1(EventData):
    settlement_id: str
    project_id: str
    county_code: str
    host_id: str
    year: int
    participants: int
    fee_per_participant_fen: int
    amount_fen: int
    previously_settled_fen: int
    delta_fen: int
    derivation: str
    counted_from: str  # the event type the participants are counted from (TeacherCheckedIn)


class PolicyInForceV1(EventData):
    jurisdiction_code: str
    effective_from: Day
    version: int


class RuleVerdictV1(EventData):
    """One verdict of domain/compliance.judge."""

    rule: str
    label: str
    ratio: str | None = None
    threshold_min: str | None = None
    threshold_max: str | None = None
    compliant: bool | None = None
    # Issue 20, additive: a school's spending beside its set-aside verdict, a district's payroll guide.
    spending_share: str | None = None
    spending_label: str | None = None
    guide_max: str | None = None
    above_guide: bool | None = None
    notice: str | None = None
    source: str | None = None
    jurisdiction_code: str | None = None
    effective_from: Day | None = None


class FundingAssessedV1(EventData):
    org_code: str
    year: int
    kind: str | None = None
    declared: bool
    public_funds_budget_fen: int
    payroll_fen: int
    training_budget_fen: int
    received_fen: int
    allocated_fen: int
    spent_fen: int
    set_aside_share: str | None = None  # issue 20: training budget ÷ public-funds budget (a school's verdict)
    funding_ratio: str | None = None
    payroll_share: str | None = None
    pass_down_share: str | None = None
    policy: PolicyInForceV1 | None = None
    rules: list[RuleVerdictV1] = []
    compliant: bool | None = None
    status: Literal["undeclared", "compliant", "not_compliant", "not_judged"] | None = None  # issue 20
    status_label: str | None = None
    judged_on: Day


MODELS: dict[str, type[EventData]] = {
    "FundingPolicyPublished": FundingPolicyPublishedV1, "BudgetDeclared": BudgetDeclaredV1,
    "FundsAllocated": FundsAllocatedV1, "FundsDisbursed": FundsDisbursedV1, "FundsReversed": FundsReversedV1,
    "SettlementCalculated": SettlementCalculatedV1, "FundingAssessed": FundingAssessedV1,
}
