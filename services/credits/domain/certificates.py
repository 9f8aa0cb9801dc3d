"""Continuing-education certificates (继续教育电子证书, 001 §6.6) for a school year or a cycle.

A certificate is issued only for a period whose target is met, and lists the entries it rests on;
it stays valid while none of them is revoked. Its number is human-friendly and unguessable:
the province's ISO 3166-2:CN letters, the period, and 80 random bits in Crockford base32
(no I, L, O, U to misread), e.g. `JX-2023-7K2M-Q9XD-4TRA-PW3E`.

Holder: the credits service knows no names; it shows the teacher id masked (`1a2b****…****9f3c`).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from shared.refusal import Refused

from .ledger import Ledger, Period
from .policy import num

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_BYTES = 10  # 80 bits
# ISO 3166-2:CN subdivision letters by GB/T 2260 province prefix.
PROVINCE_LETTERS = {
    "11": "BJ", "12": "TJ", "13": "HE", "14": "SX", "15": "NM", "21": "LN", "22": "JL", "23": "HL", "31": "SH",
    "32": "JS", "33": "ZJ", "34": "AH", "35": "FJ", "36": "JX", "37": "SD", "41": "HA", "42": "HB", "43": "HN",
    "44": "GD", "45": "GX", "46": "HI", "50": "CQ", "51": "SC", "52": "GZ", "53": "YN", "54": "XZ", "61": "SN",
    "62": "GS", "63": "QH", "64": "NX", "65": "XJ", "71": "TW", "81": "HK", "82": "MO",
}
NUMBER = re.compile(r"^[A-Z]{2}-\d{4}(-\d{4})?(-[0-9A-HJKMNP-TV-Z]{4}){4}$")


def crockford(data: bytes) -> str:
    n, bits = int.from_bytes(data, "big"), len(data) * 8
    return "".join(CROCKFORD[(n >> shift) & 31] for shift in range(bits - 5, -1, -5))


def certificate_no(jurisdiction_code: str, period: Period, random: bytes) -> str:
    if len(random) != RANDOM_BYTES:
        raise ValueError(f"need {RANDOM_BYTES} random bytes")
    letters = PROVINCE_LETTERS.get(jurisdiction_code[:2], "CN")
    span = str(period.start_year) if period.kind == "year" else f"{period.start_year}-{period.end_year}"
    body = crockford(random)
    return f"{letters}-{span}-" + "-".join(body[i:i + 4] for i in range(0, 16, 4))


def well_formed(number: str) -> bool:
    return bool(NUMBER.match(number))


def mask_id(teacher_id: str) -> str:
    raw = teacher_id.replace("-", "")
    return f"{raw[:4]}****…****{raw[-4:]}" if len(raw) >= 12 else "****"


def period_for(ledger: Ledger, year: int | None, cycle: int | None) -> Period:
    """The period a certificate is asked for: a school year, or a cycle named by its first
    school year under the teacher's policy (001 §2.3: 5-year cycles)."""
    if year is not None:
        return ledger.year(year)
    if cycle is None:
        raise ValueError("a certificate is for a school year or a cycle")  # the API requires one
    if ledger.policy is not None and ledger.policy.cycle_of(cycle)[0] != cycle:
        raise Refused("not_a_cycle", f"{cycle} is not the first year of a cycle", 422)
    period = ledger.cycle(cycle)
    if period is None:
        raise Refused("no_policy", "no credit policy applies to this teacher")
    return period


def decide_issue(period: Period, *, teacher_id: str, current_year: int, today: date,
                 certificate_no: str) -> dict[str, Any]:
    """The facts of a CertificateIssued for a period whose target is met (001 §6.6); the handler
    adds the signed credential."""
    if period.end_year > current_year:
        raise Refused("period_not_started", f"{period.label} has not begun", 422)
    if period.policy is None or period.target is None:
        raise Refused("no_policy", "no credit policy applies to this teacher for that period")
    if not period.met:
        raise Refused("target_not_met", f"{period.label}: {period.hours} of {period.target} hours")
    return {
        "certificate_no": certificate_no, "teacher_id": teacher_id, "kind": period.kind,
        "start_year": period.start_year, "end_year": period.end_year, "label": period.label,
        "hours": num(period.hours), "credits": None if period.credits is None else num(period.credits),
        "target": num(period.target), "jurisdiction_code": period.policy.jurisdiction_code,
        "policy_effective_from": period.policy.effective_from.isoformat(),
        "entry_ids": list(period.entry_ids), "issued_on": today.isoformat(),
    }
