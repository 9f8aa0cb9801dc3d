"""JSON bodies that a command's reply and a read route both answer, so they cannot drift."""

from __future__ import annotations

from typing import Any

from services.credits.domain.certificates import mask_id
from services.credits.domain.claims import APPROVED, Claim
from services.credits.domain.policies import policy_to_data
from services.credits.domain.policy import Policy, num
from services.credits.signing import published


def claim_json(c: Claim, version: int) -> dict[str, Any]:
    return {"claim_id": c.claim_id, "teacher_id": c.teacher_id, "org_code": c.org_code, "hours": num(c.hours),
            "category": c.category, "source": c.source, "earned_on": c.earned_on.isoformat(), "evidence": c.evidence,
            "school_year": c.school_year, "submitted_on": c.submitted_on.isoformat(), "status": c.status,
            "decided_on": c.decided_on.isoformat() if c.decided_on else None, "reason": c.reason,
            "entry_id": c.claim_id if c.status == APPROVED else None, "revoked": c.revoked, "version": version}


def certificate_json(d: dict[str, Any], valid: bool) -> dict[str, Any]:
    """A certificate from its CertificateIssued facts; no names, no school, no raw teacher id."""
    return {
        "certificate_no": d["certificate_no"], "holder": mask_id(d["teacher_id"]), "kind": d["kind"],
        "label": d["label"], "start_year": d["start_year"], "end_year": d["end_year"], "hours": d["hours"],
        "credits": d["credits"], "target": d["target"], "jurisdiction_code": d["jurisdiction_code"],
        "issued_on": d["issued_on"], "valid": valid, "status": "valid" if valid else "invalid",
        "invalid_reasons": [] if valid else ["entry_revoked"], "credential": published(d["credential"]),
    }


def policy_json(p: Policy, requested: str, version: int, **extra: Any) -> dict[str, Any]:
    return {**policy_to_data(p), "requested_code": requested, "version": version, **extra}
