"""The funding ledger as deciders: budgets per org and year, allocations down the org tree,
earmarked disbursements (专款专用: each names what it pays for), and reversals — a correction
is a new entry with the opposite effect, never an edit (001 §6.7; 000 §4).

Each decider takes the facts its handler loaded (the org, the account locked for the command,
the aggregate's own state) and returns the events, or raises `Refused`. What an org has
available, and the rules that keep it from going negative, are in domain/accounts.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from shared.refusal import Refused

from .accounts import Account, check_amount, draw, rebudget, take_back

ADMIN_OF = {"province": "province_admin", "city": "city_admin", "county": "county_admin", "school": "school_admin"}
Decided = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class OrgFacts:
    code: str
    kind: str
    parent_code: str | None = None


@dataclass(frozen=True)
class ProjectFacts:
    project_id: str
    year: int
    host_id: str | None


def require_own_admin(role: str, org_claim: str | None, org: OrgFacts) -> None:
    """Who acts for an org — its budget, its allocations, its disbursements, their reversals,
    its settlements: the admin role of its kind with `org` equal to its code. An admin higher up
    reads the org but cannot act for it (API.md "funding")."""
    if role != ADMIN_OF.get(org.kind) or org_claim != org.code:
        raise Refused("forbidden_role", f"only the administrator of {org.kind} {org.code} "
                                        f"({ADMIN_OF.get(org.kind)}) may do this", 403)


@dataclass(frozen=True)
class Budget:
    org_code: str
    year: int
    public_funds_budget_fen: int
    payroll_fen: int
    training_budget_fen: int


def decide_declare_budget(state: Budget | None, wanted: Budget, account: Account) -> Decided:
    """A re-declaration revises the budget (a new event; the history stays); an identical one
    records nothing; the training budget never drops below what is committed (`rebudget`)."""
    for name in ("public_funds_budget_fen", "payroll_fen", "training_budget_fen"):
        check_amount(name, getattr(wanted, name), zero_ok=True)
    if state == wanted:
        return []
    rebudget(account, wanted.training_budget_fen)
    return [("BudgetDeclared", {"org_code": wanted.org_code, "year": wanted.year,
                                "public_funds_budget_fen": wanted.public_funds_budget_fen,
                                "payroll_fen": wanted.payroll_fen,
                                "training_budget_fen": wanted.training_budget_fen})]


@dataclass(frozen=True)
class Entry:
    """An allocation or a disbursement, as folded from its own stream."""

    entry_id: str
    kind: str  # allocation | disbursement
    data: dict[str, Any]
    reversed: bool = False

    @property
    def payer(self) -> str:
        """The org whose money it moved: the disbursing org, or the allocating one."""
        return str(self.data.get("org_code") or self.data["from_code"])


def evolve_entry(state: Entry | None, type_: str, data: dict[str, Any]) -> Entry | None:
    if type_ == "FundsAllocated":
        return Entry(data["allocation_id"], "allocation", data)
    if type_ == "FundsDisbursed":
        return Entry(data["disbursement_id"], "disbursement", data)
    if type_ == "FundsReversed" and state is not None:
        return replace(state, reversed=True)
    return state


def decide_allocate(allocation_id: str, source: OrgFacts, target: OrgFacts, target_ancestors: list[str],
                    year: int, amount_fen: int, source_account: Account) -> Decided:
    """`target_ancestors`: the target's ancestors on the org tree. Money only flows down the
    tree, from an org to one below it (DOMAIN.md "Funding": districts pass funds down to
    schools), and only what the source has available (`draw`)."""
    check_amount("amount_fen", amount_fen)
    if target.code == source.code or source.code not in target_ancestors:
        raise Refused("outside_subtree", f"{target.code} is not below {source.code} on the org tree", 422)
    draw(source_account, amount_fen)
    return [("FundsAllocated", {"allocation_id": allocation_id, "from_code": source.code, "to_code": target.code,
                                "year": year, "amount_fen": amount_fen})]


def decide_disburse(disbursement_id: str, org: OrgFacts, year: int, amount_fen: int, purpose: str,
                    project: ProjectFacts | None, host_id: str | None, account: Account) -> Decided:
    """An earmarked disbursement names what it pays for; paying for a project pays its host
    (专款专用, 001 §6.7; spending per project is accounted for, 004 §2.4)."""
    check_amount("amount_fen", amount_fen)
    if not purpose.strip():
        raise Refused("purpose_required", "an earmarked disbursement names what it pays for", 422)
    if project is not None and host_id is not None and project.host_id not in (None, host_id):
        raise Refused("host_mismatch", f"project {project.project_id} is run by host {project.host_id}", 422)
    if project is not None and host_id is None:
        host_id = project.host_id
    draw(account, amount_fen)
    return [("FundsDisbursed", {"disbursement_id": disbursement_id, "org_code": org.code, "year": year,
                                "project_id": project.project_id if project else None, "host_id": host_id,
                                "amount_fen": amount_fen, "purpose": purpose.strip()})]


def decide_reverse(state: Entry, reversal_id: str, reason: str, receiver: Account | None) -> Decided:
    """A correction is a new entry restating the original with the opposite effect, recorded at
    most once per entry (audited funds, 000 §4). `receiver`: for an allocation, the receiving
    org's account, which must still hold the money (`take_back`); None for a disbursement."""
    if state.reversed:
        raise Refused("already_reversed", f"{state.kind} {state.entry_id} is already reversed")
    if not reason.strip():
        raise Refused("reason_required", "a reversal states its reason", 422)
    d = state.data
    if state.kind == "allocation":
        take_back(receiver or Account(d["to_code"], d["year"]), d["amount_fen"])
    return [("FundsReversed", {
        "reversal_id": reversal_id, "entry_id": state.entry_id, "entry_kind": state.kind,
        "org_code": state.payer, "to_code": d.get("to_code"), "year": d["year"],
        "project_id": d.get("project_id"), "host_id": d.get("host_id"), "amount_fen": d["amount_fen"],
        "purpose": d.get("purpose") or "下拨经费", "reason": reason.strip()})]
