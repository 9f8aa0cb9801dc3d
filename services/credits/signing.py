"""Signed certificates another system can verify offline: a W3C Verifiable Credential (Open
Badges 3.0 shape) with a Data Integrity proof, cryptosuite `eddsa-jcs-2022`:

    proofValue = "z" + base58btc(Ed25519-sign(SHA-256(JCS(proof options)) ‖ SHA-256(JCS(credential))))

JCS is RFC 8785 (sorted keys, no whitespace, UTF-8); our documents hold only strings, integers,
booleans and short decimals, for which Python's JSON output is already canonical once integral
floats are written as integers. The issuer is a `did:key` (resolvable offline from the key
itself); the same public key is published as a JWKS at GET /v1/certificates/keys, keyed by the
verification method id, so a verifier pins the issuer's keys once and checks any certificate
with `verify_credential(doc, keys)` and no network. Revocation is online: GET /v1/certificates/{no}.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ED25519_MULTICODEC = b"\xed\x01"
CRYPTOSUITE = "eddsa-jcs-2022"
CONTEXT = ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        n = n * 58 + B58.index(ch)  # ValueError on a foreign character
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def _normalise(v: Any) -> Any:
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("JCS has no NaN or infinity")
        return int(v) if v.is_integer() else v
    if isinstance(v, dict):
        return {k: _normalise(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_normalise(x) for x in v]
    return v


def jcs(doc: Any) -> bytes:
    return json.dumps(_normalise(doc), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


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
        options = {
            "type": "DataIntegrityProof", "cryptosuite": CRYPTOSUITE,
            "created": (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "verificationMethod": self.verification_method, "proofPurpose": "assertionMethod",
        }
        signature = self._private.sign(_hash_data(unsigned, options))
        return {**unsigned, "proof": {**options, "proofValue": "z" + b58encode(signature)}}


def _hash_data(unsigned: Mapping[str, Any], options: Mapping[str, Any]) -> bytes:
    config = {**options, "@context": unsigned.get("@context")} if "@context" in unsigned else dict(options)
    return hashlib.sha256(jcs(config)).digest() + hashlib.sha256(jcs(unsigned)).digest()


def keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    out = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and isinstance(jwk.get("kid"), str):
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            out[jwk["kid"]] = Ed25519PublicKey.from_public_bytes(raw)
    return out


def verify_credential(doc: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> bool:
    """Offline check: the proof is ours (a pinned key) and nothing in the document changed."""
    try:
        proof = dict(doc["proof"])
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
        key.verify(b58decode(value[1:]), _hash_data(unsigned, proof))
        return True
    except (InvalidSignature, KeyError, TypeError, ValueError, AttributeError):
        return False
