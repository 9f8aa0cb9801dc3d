"""The funding ledger as deciders: budgets per org and year, allocations down the org tree,
earmarked disbursements (专款专用: each names what it pays for), and reversals — a correction
is a new entry with the opposite effect, never an edit (001 §6.7; 000 §4).

What an org has for training — the over-spend check, the same rule for every kind of org:

    available = training budget + allocations received − allocated onward − spent

so a school has its own training budget + what its district passed down − what it disbursed,
and a district its training budget − what it passed down to schools − what it disbursed
(settlements with hosts included). `training_budget_fen` is what the org budgets itself;
allocations it receives are counted next to it, never inside it. The check runs race-free in
the projector (a guarded UPDATE of the account row, in the command's transaction); this module
holds the pure rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .errors import Refused

MAX_FEN = 10**15  # below 2^53, so exact in every JSON parser; larger amounts are refused
ADMIN_OF = {"province": "province_admin", "city": "city_admin", "county": "county_admin", "school": "school_admin"}


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


@dataclass(frozen=True)
class Budget:
    org_code: str
    year: int
    public_funds_budget_fen: int
    payroll_fen: int
    training_budget_fen: int


def check_amount(name: str, value: Any, *, zero_ok: bool = False) -> int:
    """Integer fen only: no bool, no float, no string; within [0 or 1, MAX_FEN)."""
    if type(value) is not int or not ((0 if zero_ok else 1) <= value < MAX_FEN):
        raise Refused("invalid_amount", f"{name} must be an integer number of fen in "
                      f"[{0 if zero_ok else 1}, {MAX_FEN})", 422)
    return value


def evolve_budget(state: Budget | None, type_: str, data: dict[str, Any]) -> Budget | None:
    if type_ == "BudgetDeclared":
        return Budget(data["org_code"], data["year"], data["public_funds_budget_fen"], data["payroll_fen"],
                      data["training_budget_fen"])
    return state


def decide_declare_budget(state: Budget | None, wanted: Budget) -> list[tuple[str, dict]]:
    """A re-declaration revises the budget (a new event; the history stays). Lowering the
    training budget below what is already committed is refused by the balance guard."""
    for name in ("public_funds_budget_fen", "payroll_fen", "training_budget_fen"):
        check_amount(name, getattr(wanted, name), zero_ok=True)
    if state == wanted:
        return []
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


def evolve_entry(state: Entry | None, type_: str, data: dict[str, Any]) -> Entry | None:
    if type_ == "FundsAllocated":
        return Entry(data["allocation_id"], "allocation", data)
    if type_ == "FundsDisbursed":
        return Entry(data["disbursement_id"], "disbursement", data)
    if type_ == "FundsReversed" and state is not None:
        return replace(state, reversed=True)
    return state


def decide_allocate(allocation_id: str, source: OrgFacts, target: OrgFacts, target_ancestors: list[str],
                    year: int, amount_fen: int) -> list[tuple[str, dict]]:
    """`target_ancestors`: the target's ancestors on the org tree. Money only flows down the
    tree, from an org to one below it (DOMAIN.md: districts pass funds down to schools)."""
    check_amount("amount_fen", amount_fen)
    if target.code == source.code or source.code not in target_ancestors:
        raise Refused("outside_subtree", f"{target.code} is not below {source.code} on the org tree", 422)
    return [("FundsAllocated", {"allocation_id": allocation_id, "from_code": source.code, "to_code": target.code,
                                "year": year, "amount_fen": amount_fen})]


def decide_disburse(disbursement_id: str, org: OrgFacts, year: int, amount_fen: int, purpose: str,
                    project: ProjectFacts | None, host_id: str | None) -> list[tuple[str, dict]]:
    check_amount("amount_fen", amount_fen)
    if not purpose.strip():
        raise Refused("purpose_required", "an earmarked disbursement names what it pays for", 422)
    if project is not None and host_id is not None and project.host_id not in (None, host_id):
        raise Refused("host_mismatch", f"project {project.project_id} is run by host {project.host_id}", 422)
    if project is not None and host_id is None:
        host_id = project.host_id  # paying for a project pays its host
    return [("FundsDisbursed", {"disbursement_id": disbursement_id, "org_code": org.code, "year": year,
                                "project_id": project.project_id if project else None, "host_id": host_id,
                                "amount_fen": amount_fen, "purpose": purpose.strip()})]


def decide_reverse(state: Entry, reversal_id: str, reason: str) -> list[tuple[str, dict]]:
    if state.reversed:
        raise Refused("already_reversed", f"{state.kind} {state.entry_id} is already reversed")
    if not reason.strip():
        raise Refused("reason_required", "a reversal states its reason", 422)
    d = state.data
    return [("FundsReversed", {
        "reversal_id": reversal_id, "entry_id": state.entry_id, "entry_kind": state.kind,
        "org_code": d.get("org_code") or d["from_code"], "to_code": d.get("to_code"), "year": d["year"],
        "project_id": d.get("project_id"), "host_id": d.get("host_id"), "amount_fen": d["amount_fen"],
        "purpose": d.get("purpose") or "下拨经费", "reason": reason.strip()})]
