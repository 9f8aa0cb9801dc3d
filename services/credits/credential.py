"""The certificate as an Open Badges 3.0 `OpenBadgeCredential` (a W3C VC 2.0).

No personal data: the holder is an OB3 IdentityObject carrying a salted SHA-256 of the internal
teacher id (a system that knows the id can match it; nobody can read it back), never a name or
an ID number. Hours travel as an OB3 Result ("RawScore" of the hours description), credits as
`creditsEarned`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from services.credits.signing import CONTEXT, Signer
from shared.personal import has_national_id


def identity_hash(teacher_id: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((teacher_id + salt).encode()).hexdigest()


def _salt(teacher_id: str) -> str:
    """A random salt whose identity hash has no run of 18 digits: one that did would read as a
    national ID number to the gate every event passes (shared/personal.py), and the certificate
    would be refused — about 1 in 700 salts; so draw again."""
    while has_national_id(identity_hash(teacher_id, salt := secrets.token_hex(8))):
        pass
    return salt


def build_credential(facts: dict[str, Any], signer: Signer, public_url: str, created: datetime | None = None,
                     salt: str | None = None) -> dict[str, Any]:
    no, jurisdiction = facts["certificate_no"], facts["jurisdiction_code"]
    salt = salt or _salt(facts["teacher_id"])
    span = f"{facts['start_year']}-{facts['end_year']}"
    achievement_id = f"urn:tt:achievement:{jurisdiction}:{facts['kind']}:{span}"
    hours_desc = f"{achievement_id}:hours"
    kind_zh = "学年" if facts["kind"] == "year" else "周期"
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [{"type": "IdentityObject", "identityHash": identity_hash(facts["teacher_id"], salt),
                        "identityType": "identifier", "hashed": True, "salt": salt}],
        "achievement": {
            "id": achievement_id, "type": ["Achievement"], "achievementType": "Certificate",
            "name": f"{facts['label']} 中小学教师继续教育学时证书",
            "description": f"Continuing-education credit hours, {facts['kind']} {span}, jurisdiction {jurisdiction}",
            "criteria": {"narrative": f"{kind_zh}目标 {facts['target']} 学时 (target {facts['target']} hours)"},
            "resultDescription": [{"id": hours_desc, "type": ["ResultDescription"], "name": "学时 Credit hours",
                                   "resultType": "RawScore"}],
        },
        "result": [{"type": ["Result"], "resultDescription": hours_desc, "value": str(facts["hours"])}],
    }
    if facts.get("credits") is not None:
        subject["creditsEarned"] = facts["credits"]
    credential = {
        "@context": CONTEXT,
        "id": f"urn:tt:certificate:{no}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": signer.did, "type": ["Profile"], "name": f"教师继续教育学分管理 Credits office {jurisdiction}",
                   "url": public_url.rstrip("/") + "/v1/certificates/keys"},
        "validFrom": f"{facts['issued_on']}T00:00:00+08:00",
        "name": f"{facts['label']} 继续教育学时证书 {no}",
        "credentialSubject": subject,
    }
    return signer.sign(credential, created)
