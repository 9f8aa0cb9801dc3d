"""Per-participant settlement with a host institution (001 §6.7): online training fees are
settled per county, "按中标课时费标准及参训人数情况直接与承训机构结算" — the contracted fee per
participant × the number of participants, paid to the host.

Participants are the distinct teachers with a TeacherCheckedIn for the project whose school
lies in the county (or, while the teacher's school is not yet known here, whose nominating
region is the county). A settlement is a running account per (project, county): each
SettlementCalculated records how its amount was derived and pays only the difference to what
was settled before, so recomputing after a late check-in pays exactly the late arrivals, and
recomputing with nothing new records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.refusal import Refused

from .accounts import MAX_FEN, Account, check_amount, draw
from .ledger import OrgFacts


@dataclass(frozen=True)
class Settled:
    settled_fen: int = 0
    participants: int = 0
    fee_per_participant_fen: int | None = None
    count: int = 0  # SettlementCalculated events so far


def require_county(org: OrgFacts) -> None:
    """Online training fees are settled per county (001 §6.7), by the county itself."""
    if org.kind != "county":
        raise Refused("not_a_county", f"{org.code} is a {org.kind}", 422)


def evolve(state: Settled, type_: str, data: dict[str, Any]) -> Settled:
    if type_ == "SettlementCalculated":
        return Settled(data["amount_fen"], data["participants"], data["fee_per_participant_fen"], state.count + 1)
    return state


def decide_settle(state: Settled, *, settlement_id: str, project_id: str, county_code: str, host_id: str | None,
                  year: int, participants: int, fee_per_participant_fen: int,
                  account: Account) -> list[tuple[str, dict[str, Any]]]:
    """`account`: the county's, for the project's year; a positive difference is drawn from it
    (`draw`), a negative one (a lower fee) credited back."""
    check_amount("fee_per_participant_fen", fee_per_participant_fen)
    if host_id is None:
        raise Refused("project_without_host", f"project {project_id} names no host to pay", 422)
    amount = participants * fee_per_participant_fen
    if amount >= MAX_FEN:
        raise Refused("invalid_amount", f"{participants} × {fee_per_participant_fen} fen is beyond {MAX_FEN}", 422)
    if participants == 0 and state.count == 0:
        raise Refused("no_participants", f"no teacher of {county_code} has checked in to project {project_id}")
    delta = amount - state.settled_fen
    if delta == 0 and state.count and state.fee_per_participant_fen == fee_per_participant_fen:
        return []  # nothing new since the last settlement
    if delta > 0:
        draw(account, delta)
    return [("SettlementCalculated", {
        "settlement_id": settlement_id, "project_id": project_id, "county_code": county_code, "host_id": host_id,
        "year": year, "participants": participants, "fee_per_participant_fen": fee_per_participant_fen,
        "amount_fen": amount, "previously_settled_fen": state.settled_fen, "delta_fen": delta,
        "derivation": f"{participants} × {fee_per_participant_fen} = {amount} fen; "
                      f"{amount} − {state.settled_fen} settled before = {delta} fen",
        "counted_from": "TeacherCheckedIn"})]
