"""The ledger and settlement deciders, pure (no database): Given facts and events / When command /
Then events. The balance rules are judged here on the account the handler locked; that the lock
holds under concurrency needs the database (test_funding_concurrency.py)."""

from __future__ import annotations

import pytest

from services.funding.domain import accounts, ledger, settlement
from services.funding.domain.accounts import Account
from services.funding.domain.ledger import Budget, OrgFacts, ProjectFacts
from shared.refusal import Refused

COUNTY, SCHOOL = OrgFacts("330106", "county", "330100"), OrgFacts("330106001", "school", "330106")
# Accounts with money enough for every command below that is not about the balance.
RICH_COUNTY = Account("330106", 2023, training_budget_fen=10**12)
RICH_SCHOOL = Account("330106001", 2023, training_budget_fen=10**12)


def refused_with(code: str, status: int, fn, *args, **kw) -> None:
    with pytest.raises(Refused) as exc:
        fn(*args, **kw)
    assert (exc.value.code, exc.value.status) == (code, status)


def test_a_budget_is_declared_revised_and_an_identical_repeat_records_nothing():
    first = Budget("330106001", 2023, 1_000_000, 0, 50_000)
    [(type_, data)] = ledger.decide_declare_budget(None, first, RICH_SCHOOL)
    assert type_ == "BudgetDeclared" and data["training_budget_fen"] == 50_000
    state = Budget(**data)  # as the guard row holds it (services/funding/guards.py)
    assert ledger.decide_declare_budget(state, first, RICH_SCHOOL) == []
    assert ledger.decide_declare_budget(state, Budget("330106001", 2023, 1_000_000, 0, 60_000), RICH_SCHOOL)[0][1][
        "training_budget_fen"] == 60_000


@pytest.mark.parametrize("amount", [-1, 1.0, "5", True, None, accounts.MAX_FEN])
def test_amounts_are_integer_fen_in_range(amount):
    refused_with("invalid_amount", 422, ledger.decide_declare_budget, None, Budget("1", 2023, amount, 0, 0),
                 RICH_SCHOOL)
    refused_with("invalid_amount", 422, ledger.decide_disburse, "d", SCHOOL, 2023, amount, "x", None, None,
                 RICH_SCHOOL)


def test_money_flows_only_down_the_tree():
    [(_, data)] = ledger.decide_allocate("a1", COUNTY, SCHOOL, ["330106", "330100", "330000"], 2023, 700_000,
                                         RICH_COUNTY)
    assert data == {"allocation_id": "a1", "from_code": "330106", "to_code": "330106001", "year": 2023,
                    "amount_fen": 700_000}
    refused_with("outside_subtree", 422, ledger.decide_allocate, "a2", SCHOOL, COUNTY, ["330100", "330000"], 2023, 1,
                 RICH_SCHOOL)
    refused_with("outside_subtree", 422, ledger.decide_allocate, "a3", COUNTY, COUNTY, ["330100"], 2023, 1,
                 RICH_COUNTY)
    refused_with("invalid_amount", 422, ledger.decide_allocate, "a4", COUNTY, SCHOOL, ["330106"], 2023, 0,
                 RICH_COUNTY)


def test_a_disbursement_names_what_it_pays_for_and_a_project_pays_its_host():
    project = ProjectFacts("p1", 2023, "h1")
    [(_, data)] = ledger.decide_disburse("d1", SCHOOL, 2023, 100, " 培训课时费 ", project, None, RICH_SCHOOL)
    assert (data["purpose"], data["host_id"], data["project_id"]) == ("培训课时费", "h1", "p1")
    refused_with("purpose_required", 422, ledger.decide_disburse, "d2", SCHOOL, 2023, 100, " ", None, None,
                 RICH_SCHOOL)
    refused_with("host_mismatch", 422, ledger.decide_disburse, "d3", SCHOOL, 2023, 100, "x", project, "h2",
                 RICH_SCHOOL)


def test_an_entry_is_reversed_once_by_a_new_event_that_restates_it():
    [(t, d)] = ledger.decide_disburse("d1", SCHOOL, 2023, 100, "资料费", None, None, RICH_SCHOOL)
    entry = ledger.evolve_entry(None, t, d)
    [(type_, data)] = ledger.decide_reverse(entry, "r1", "重复支付", None)
    assert type_ == "FundsReversed" and {k: data[k] for k in ("entry_id", "entry_kind", "org_code", "amount_fen")} \
        == {"entry_id": "d1", "entry_kind": "disbursement", "org_code": SCHOOL.code, "amount_fen": 100}
    reversed_entry = ledger.evolve_entry(entry, type_, data)
    refused_with("already_reversed", 409, ledger.decide_reverse, reversed_entry, "r2", "again", None)
    [(t, d)] = ledger.decide_allocate("a1", COUNTY, SCHOOL, ["330106"], 2023, 5, RICH_COUNTY)
    [(_, back)] = ledger.decide_reverse(ledger.evolve_entry(None, t, d), "r3", "错拨", RICH_SCHOOL)
    assert (back["org_code"], back["to_code"], back["entry_kind"]) == ("330106", "330106001", "allocation")


def settle(state: settlement.Settled, participants: int, fee: int = 50_000, account: Account = RICH_COUNTY):
    return settlement.decide_settle(state, settlement_id="s", project_id="p1", county_code="330106", host_id="h1",
                                    year=2023, participants=participants, fee_per_participant_fen=fee,
                                    account=account)


def test_a_settlement_pays_fee_times_participants_and_later_only_the_difference():
    [(type_, first)] = settle(settlement.Settled(), 4)
    assert (first["amount_fen"], first["previously_settled_fen"], first["delta_fen"]) == (200_000, 0, 200_000)
    state = settlement.evolve(settlement.Settled(), type_, first)
    assert settle(state, 4) == []  # nothing new
    [(_, late)] = settle(state, 5)
    assert (late["amount_fen"], late["previously_settled_fen"], late["delta_fen"]) == (250_000, 200_000, 50_000)
    assert late["derivation"] == "5 × 50000 = 250000 fen; 250000 − 200000 settled before = 50000 fen"


def test_settlement_refusals():
    refused_with("no_participants", 409, settle, settlement.Settled(), 0)
    refused_with("invalid_amount", 422, settle, settlement.Settled(), 3, 0)
    refused_with("invalid_amount", 422, settle, settlement.Settled(), 10, accounts.MAX_FEN // 10)
    with pytest.raises(Refused) as exc:
        settlement.decide_settle(settlement.Settled(), settlement_id="s", project_id="p", county_code="c",
                                 host_id=None, year=2023, participants=1, fee_per_participant_fen=1,
                                 account=RICH_COUNTY)
    assert exc.value.code == "project_without_host"


# The balance rules (domain/accounts.py), each at its line: what is available is exactly enough.
def test_money_leaves_an_account_only_while_it_is_available():
    school = Account("330106001", 2023, training_budget_fen=20_000, received_fen=210_000, spent_fen=100_000)
    assert school.available == 130_000
    assert ledger.decide_disburse("d", SCHOOL, 2023, 130_000, "x", None, None, school)
    refused_with("insufficient_funds", 409, ledger.decide_disburse, "d", SCHOOL, 2023, 130_001, "x", None, None,
                 school)
    county = Account("330106", 2023, training_budget_fen=300_000, allocated_fen=210_000)
    assert ledger.decide_allocate("a", COUNTY, SCHOOL, ["330106"], 2023, 90_000, county)
    refused_with("insufficient_funds", 409, ledger.decide_allocate, "a", COUNTY, SCHOOL, ["330106"], 2023, 90_001,
                 county)
    [(t, first)] = settle(settlement.Settled(), 2, account=Account("330106", 2023, training_budget_fen=100_000))
    refused_with("insufficient_funds", 409, settle, settlement.evolve(settlement.Settled(), t, first), 3,
                 account=Account("330106", 2023, training_budget_fen=100_000, spent_fen=100_000))
    # A lower fee credits back: nothing is drawn, so an exhausted account does not stop it.
    assert settle(settlement.evolve(settlement.Settled(), t, first), 2, fee=40_000,
                  account=Account("330106", 2023, spent_fen=100_000))


def test_a_budget_never_drops_below_what_the_org_has_committed():
    committed = Account("330106001", 2023, training_budget_fen=20_000, received_fen=210_000, spent_fen=230_000)
    declared = Budget("330106001", 2023, 1_000_000, 0, 20_000)
    assert ledger.decide_declare_budget(declared, Budget("330106001", 2023, 1_200_000, 0, 20_000), committed)
    refused_with("budget_below_committed", 409, ledger.decide_declare_budget, declared,
                 Budget("330106001", 2023, 1_000_000, 0, 19_999), committed)


def test_an_allocation_is_taken_back_only_while_the_receiver_still_has_it():
    [(t, d)] = ledger.decide_allocate("a1", COUNTY, SCHOOL, ["330106"], 2023, 60_000, RICH_COUNTY)
    allocation = ledger.evolve_entry(None, t, d)
    holds = Account("330106001", 2023, received_fen=60_000)
    assert ledger.decide_reverse(allocation, "r1", "错拨", holds)
    refused_with("allocation_committed", 409, ledger.decide_reverse, allocation, "r2", "错拨",
                 Account("330106001", 2023, received_fen=60_000, spent_fen=1))
    refused_with("allocation_committed", 409, ledger.decide_reverse, allocation, "r3", "错拨", None)
