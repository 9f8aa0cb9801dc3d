"""Every event the funding service publishes (API.md "funding"), with its current schema version.

Data contracts (modelled in event_models.py; the registry refuses data that does not fit), money
in integer fen, shares as decimal strings, dates ISO:
- FundingPolicyPublished {jurisdiction_code, effective_from, school_public_funds_share, school_share_basis,
  district_payroll_share_min, district_payroll_share_max (since issue 20 read as the guide's upper end,
  never a verdict), pass_down_min, sources {rule: seed citation}}
- BudgetDeclared {org_code, year, public_funds_budget_fen, payroll_fen, training_budget_fen}
- FundsAllocated {allocation_id, from_code, to_code, year, amount_fen}
- FundsDisbursed {disbursement_id, org_code, year, project_id, host_id, amount_fen, purpose}
- FundsReversed {reversal_id, entry_id, entry_kind (allocation|disbursement), org_code, to_code, year,
  project_id, host_id, amount_fen (the amount reversed, positive), purpose, reason}
- SettlementCalculated {settlement_id, project_id, county_code, host_id, year, participants,
  fee_per_participant_fen, amount_fen, previously_settled_fen, delta_fen, derivation, counted_from}
- FundingAssessed {org_code, year, kind (the org's kind in funding's directory, or null), declared,
  public_funds_budget_fen, payroll_fen, training_budget_fen, received_fen, allocated_fen, spent_fen,
  set_aside_share, funding_ratio, payroll_share, pass_down_share, policy {jurisdiction_code, effective_from,
  version} | null, rules [the verdicts of domain/compliance.judge, each with spending_share, guide_max,
  above_guide, notice], compliant (true | false | null), status (undeclared | compliant | not_compliant |
  not_judged) and status_label (未申报…; the fields added by issue 20 are additive, so an older
  assessment lacks them and reporting reads it as before), judged_on (31 December
  of the year: the day whose policy in force judged it)} — funding's verdict on one account, on stream
  `assessment-<org_code>-<year>`: exactly an item of GET /v1/funding/orgs minus `name` (both built by
  services/funding/judgement.assess). Recorded by the assessor (projector/assessor.py) whenever an
  account's figures or the policy judging it change, and only when the verdict differs from the last
  one recorded, so consumers (reporting) keep funding's verdicts without calling funding.
"""

from shared.envelope import EventRegistry

from .event_models import MODELS

registry = EventRegistry()

for _type in ("FundingPolicyPublished", "BudgetDeclared", "FundsAllocated", "FundsDisbursed", "FundsReversed",
              "SettlementCalculated", "FundingAssessed"):
    registry.register(_type, 1, model=MODELS[_type])
