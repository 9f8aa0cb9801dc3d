"""Every event the funding service publishes (API.md "funding"), with its current schema version.

Data contracts (money in integer fen, shares as decimal strings, dates ISO):
- FundingPolicyPublished {jurisdiction_code, effective_from, school_public_funds_share, school_share_basis,
  district_payroll_share_min, district_payroll_share_max, pass_down_min, sources {rule: seed citation}}
- BudgetDeclared {org_code, year, public_funds_budget_fen, payroll_fen, training_budget_fen}
- FundsAllocated {allocation_id, from_code, to_code, year, amount_fen}
- FundsDisbursed {disbursement_id, org_code, year, project_id, host_id, amount_fen, purpose}
- FundsReversed {reversal_id, entry_id, entry_kind (allocation|disbursement), org_code, to_code, year,
  project_id, host_id, amount_fen (the amount reversed, positive), purpose, reason}
- SettlementCalculated {settlement_id, project_id, county_code, host_id, year, participants,
  fee_per_participant_fen, amount_fen, previously_settled_fen, delta_fen, derivation, counted_from}
"""

from shared.envelope import EventRegistry

registry = EventRegistry()

for _type in ("FundingPolicyPublished", "BudgetDeclared", "FundsAllocated", "FundsDisbursed", "FundsReversed",
              "SettlementCalculated"):
    registry.register(_type, 1)
