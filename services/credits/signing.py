"""Signed certificates another system can verify offline: a W3C Verifiable Credential 2.0 (Open
Badges 3.0 shape) with a Data Integrity proof, cryptosuite `eddsa-jcs-2022` (W3C vc-di-eddsa):

    proofValue = "z" + base58btc(Ed25519-sign(SHA-256(JCS(proof config)) ‖ SHA-256(JCS(credential))))

where the proof config is the proof without `proofValue`, and carries the credential's `@context`
(vc-di-eddsa §3.3.1 step 2: the published proof has it too, so a verifier hashes exactly what we
signed). JCS is RFC 8785 (the `rfc8785` package), base58btc the Bitcoin alphabet (`base58`).

The issuer is a `did:key` (resolvable offline from the key itself); the same public key is
published as a JWKS at GET /v1/certificates/keys, keyed by the verification method id, so a
verifier pins the issuer's keys once and checks any certificate with `verify_credential(doc, keys)`
and no network. An outside stack (Digital Bazaar's @digitalbazaar/vc, tests/credits/verifier/)
verifies the same documents. Revocation is online: GET /v1/certificates/{no}.

Certificates issued before the proof carried its `@context` (signed with it, published without):
`published()` puts it back when a certificate is shown, and `verify_credential` accepts the
stored form too. The signed bytes are unchanged: the hand-written JCS this module had before gave
the same bytes as `rfc8785` for every document we sign (ASCII keys, strings, booleans, integers,
short decimals); the two differ only on floats written with an exponent (1e-07 vs 1e-7), integers
beyond 2^53 (rfc8785 refuses them) and key order among characters outside the BMP, none of which
a certificate holds (tests/credits/test_certificate_signing.py checks a certificate signed then).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import base58
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519_MULTICODEC = b"\xed\x01"
CRYPTOSUITE = "eddsa-jcs-2022"
CONTEXT = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]


def b58encode(data: bytes) -> str:
    """base58btc, the Bitcoin alphabet (multibase prefix `z`)."""
    return base58.b58encode(data).decode("ascii")


def b58decode(text: str) -> bytes:
    return base58.b58decode(text)  # ValueError on a foreign character


def jcs(doc: Any) -> bytes:
    """RFC 8785 canonical JSON (rfc8785 raises a ValueError on NaN, infinity or an integer beyond 2^53)."""
    return rfc8785.dumps(doc)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.multibase = "z" + b58encode(ED25519_MULTICODEC + raw)
        self.did = f"did:key:{self.multibase}"
        self.verification_method = f"{self.did}#{self.multibase}"
        self._raw = raw

    @classmethod
    def from_seed(cls, seed: bytes) -> Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": _b64url(self._raw), "kid": self.verification_method,
                          "alg": "EdDSA", "use": "sig"}]}

    def sign(self, credential: Mapping[str, Any], created: datetime | None = None) -> dict[str, Any]:
        unsigned = {k: v for k, v in credential.items() if k != "proof"}
        options: dict[str, Any] = {
            "type": "DataIntegrityProof", "cryptosuite": CRYPTOSUITE,
            "created": (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "verificationMethod": self.verification_method, "proofPurpose": "assertionMethod",
        }
        if "@context" in unsigned:
            options["@context"] = unsigned["@context"]
        signature = self._private.sign(_hash_data(unsigned, options))
        return {**unsigned, "proof": {**options, "proofValue": "z" + b58encode(signature)}}


def _hash_data(unsigned: Mapping[str, Any], config: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(jcs(config)).digest() + hashlib.sha256(jcs(unsigned)).digest()


def published(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The credential as shown: a proof signed with the document's `@context` in its config but
    stored without it (certificates issued before the proof carried it) gets it back, so that any
    eddsa-jcs-2022 verifier hashes the config we signed. Signed bytes and proofValue are unchanged."""
    out = dict(doc)
    proof = out.get("proof")
    if isinstance(proof, Mapping) and "@context" not in proof and "@context" in out:
        out["proof"] = {**proof, "@context": out["@context"]}
    return out


def keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    out = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and isinstance(jwk.get("kid"), str):
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            out[jwk["kid"]] = Ed25519PublicKey.from_public_bytes(raw)
    return out


def verify_credential(doc: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> bool:
    """Offline check: the proof is ours (a pinned key) and nothing in the document changed
    (vc-di-eddsa §3.3.2 for eddsa-jcs-2022, with the issuer's keys pinned from the JWKS)."""
    try:
        proof = dict(published(doc)["proof"])
        if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
            return False
        method = proof["verificationMethod"]
        key = keys.get(method)
        issuer = doc.get("issuer")
        issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        if key is None or issuer_id != method.split("#", 1)[0]:
            return False
        value = proof.pop("proofValue")
        if not isinstance(value, str) or not value.startswith("z"):
            return False
        unsigned = {k: v for k, v in doc.items() if k != "proof"}
        if "@context" in proof:  # the document's @context must start with the proof's, in order
            mine, theirs = _as_list(proof["@context"]), _as_list(unsigned.get("@context"))
            if theirs[:len(mine)] != mine:
                return False
            unsigned["@context"] = proof["@context"]
        key.verify(b58decode(value[1:]), _hash_data(unsigned, proof))
        return True
    except (InvalidSignature, KeyError, TypeError, ValueError, AttributeError):
        return False


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list | tuple) else [v]
