"""What an org has for training, and the three rules that keep it from going negative.

    available = training budget + allocations received − allocated onward − spent

the same rule for every kind of org: a school has its own training budget + what its district
passed down − what it disbursed; a district its training budget − what it passed down to
schools − what it disbursed (settlements with hosts included). `training_budget_fen` is what
the org budgets itself; allocations it receives are counted next to it, never inside it.

Funds are earmarked and audited (专款专用, 000 §4; 001 §6.7): nothing may make `available`
negative. Three commands could, and each is judged here, once:
- drawing money (a disbursement, an allocation onward, a settlement): `draw`;
- lowering the org's own training budget below what it has committed: `rebudget`;
- taking back an allocation the receiver has already spent or passed on: `take_back`.
The handlers read the account under a row lock (services/funding/guards.py holds the facts),
so the judgement stands until the command commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.refusal import Refused

MAX_FEN = 10**15  # below 2^53, so exact in every JSON parser; larger amounts are refused


def check_amount(name: str, value: Any, *, zero_ok: bool = False) -> int:
    """Integer fen only: no bool, no float, no string; within [0 or 1, MAX_FEN)."""
    if type(value) is not int or not ((0 if zero_ok else 1) <= value < MAX_FEN):
        raise Refused("invalid_amount", f"{name} must be an integer number of fen in "
                      f"[{0 if zero_ok else 1}, {MAX_FEN})", 422)
    return value


@dataclass(frozen=True)
class Account:
    """An org's running totals for a year; an org with no row yet has all zeros."""

    org_code: str
    year: int
    training_budget_fen: int = 0
    received_fen: int = 0
    allocated_fen: int = 0
    spent_fen: int = 0

    @property
    def available(self) -> int:
        return self.training_budget_fen + self.received_fen - self.allocated_fen - self.spent_fen


def draw(account: Account, amount_fen: int) -> None:
    """The over-spend check (专款专用, 000 §4; 001 §6.7): an org pays or passes down only what it
    has available for training that year."""
    if account.available < amount_fen:
        raise Refused("insufficient_funds", f"{account.org_code} has {account.available} fen available for "
                                            f"training in {account.year}; {amount_fen} fen needed")


def rebudget(account: Account, training_budget_fen: int) -> None:
    """A revised training budget still covers what the org has committed of its own money
    (allocated onward and spent beyond what it received) (专款专用, 000 §4; 001 §6.7)."""
    if training_budget_fen + account.received_fen - account.allocated_fen - account.spent_fen < 0:
        committed = account.allocated_fen + account.spent_fen - account.received_fen
        raise Refused("budget_below_committed", f"{account.org_code} has already committed {committed} fen of its "
                                                f"own training budget for {account.year}")


def take_back(receiver: Account, amount_fen: int) -> None:
    """An allocation is taken back only while the receiver still has it — not spent, not passed
    on (专款专用, 000 §4; 001 §6.7): reversing it must not overdraw the receiver."""
    if receiver.available < amount_fen:
        raise Refused("allocation_committed", f"{receiver.org_code} has already committed part of this allocation")
