"""Bearer-JWT authentication and GB/T 2260 org scoping.

Tokens are verified only against keys we hold (a JWKS or one PEM file); the algorithm is
taken from the key's type, never from the token header, so `alg: none` and the HS256
"public key as HMAC secret" confusion cannot get through.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jwt
import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Depends, Request
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from shared.orgs import org_within
from shared.problems import Problem

log = logging.getLogger(__name__)

ROLES = (
    "province_admin", "city_admin", "county_admin", "school_admin",
    "host", "auditor", "finance", "teacher", "service",
    "ops",  # operators: projections, rebuilds, dead letters; unscoped like service, no business commands
)
# The operators' endpoints (projections, rebuilds, dead letters): system accounts and operators only.
OPERATORS = ("service", "ops")
# Roles whose read scope is the subtree under their `org` claim. `finance` (财务) is read-only and
# reads funding alone: every route names the roles it admits, and only funding's reads and
# reporting's funding report name it (issue 20).
_SCOPED_ROLES = frozenset({"province_admin", "city_admin", "county_admin", "school_admin", "auditor", "finance"})
LEEWAY_S = 30
_MIN_RSA_BITS = 2048
_VERIFIED_CACHE_SIZE = 10_000  # distinct live tokens remembered per process
_KID_CACHE_SIZE = 256  # distinct token headers remembered (an issuer signs every token under one or two)


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    org: str | None
    # Excluded from eq/hash (dicts are unhashable) and repr (keeps claims out of logs).
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def actor(self) -> dict[str, Any]:
        return {"sub": self.sub, "role": self.role, "org": self.org}


def _invalid(reason: str) -> Problem:
    return Problem(401, "invalid_token", "身份验证失败 Invalid token", detail=reason,
                   headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _alg_for(key: Any) -> str | None:
    if isinstance(key, Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, RSAPublicKey) and key.key_size >= _MIN_RSA_BITS:
        return "RS256"
    return None


class _SodiumEdDSA(OKPAlgorithm):
    """PyJWT's EdDSA, with Ed25519 signatures checked by libsodium (PyNaCl) instead of OpenSSL.

    Why: a teacher's check-in usually arrives with a token this process has not seen yet, so
    its signature is checked on the request's path. OpenSSL takes ~105 µs for an Ed25519
    verification on our bench machine, libsodium ~54 µs, of a check-in's ~1 ms of service CPU
    (docs/benchmarks.md). Everything else (key types, JWK parsing, signing for the dev tokens,
    Ed448) stays PyJWT's own; libsodium's check is the stricter of the two (it refuses
    non-canonical and small-order encodings), never the looser.
    """

    def verify(self, msg: str | bytes, key: Any, sig: str | bytes) -> bool:
        if not isinstance(key, Ed25519PublicKey):
            return bool(super().verify(msg, key, sig))
        try:
            nacl.signing.VerifyKey(key.public_bytes_raw()).verify(
                msg.encode() if isinstance(msg, str) else msg, sig.encode() if isinstance(sig, str) else sig)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
            return False
        return True


# PyJWT's documented way to replace an algorithm's implementation; process-wide, as is the
# jwt.decode every verifier calls. Signing (dev tokens, tests) goes through the parent unchanged.
jwt.unregister_algorithm("EdDSA")
jwt.register_algorithm("EdDSA", _SodiumEdDSA())


# Our own wording: PyJWT messages are fine today, but the detail must never echo input.
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed for this key"),
    (jwt.InvalidSignatureError, "bad signature"),
)


class JwtVerifier:
    def __init__(self, keys_path: Path | None, issuer: str, audience: str,
                 *, jwks: dict[str, Any] | None = None) -> None:
        self.keys_path = Path(keys_path) if keys_path is not None else None
        self.issuer = issuer
        self.audience = audience
        self._jwks = jwks
        # kid -> (key, alg); kid None means "the single PEM key", used whatever the header says.
        self._keys: dict[str | None, tuple[Any, str]] = {}
        self._mtime_ns: int | None = None
        # token -> (principal, nbf, exp) for tokens that verified; see verify().
        self._verified: dict[str, tuple[Principal, float, float]] = {}
        # a token's header segment -> its kid; see _kid().
        self._kids: dict[str, Any] = {}
        self.reload()

    @classmethod
    def from_jwks(cls, jwks: dict[str, Any], issuer: str, audience: str) -> JwtVerifier:
        return cls(None, issuer, audience, jwks=jwks)

    def reload(self) -> None:
        """Re-read the key file (key rotation). On error the old keys stay in force."""
        if self.keys_path is None:
            self._keys = self._parse_jwks(self._jwks or {})
            self._verified = {}
            return
        mtime = self.keys_path.stat().st_mtime_ns
        raw = self.keys_path.read_bytes()
        if raw.lstrip().startswith(b"{"):
            keys = self._parse_jwks(json.loads(raw))
        else:
            key = load_pem_public_key(raw)
            alg = _alg_for(key)
            if alg is None:
                raise ValueError(f"{self.keys_path}: need an Ed25519 or RSA>={_MIN_RSA_BITS} public key")
            keys = {None: (key, alg)}
        if not keys:
            raise ValueError(f"{self.keys_path}: no usable verification keys")
        self._keys, self._mtime_ns = keys, mtime
        self._verified = {}  # a rotated-out key must stop vouching for tokens it signed

    @staticmethod
    def _parse_jwks(jwks: dict[str, Any]) -> dict[str | None, tuple[Any, str]]:
        keys: dict[str | None, tuple[Any, str]] = {}
        for jwk in jwks.get("keys", []):
            kid, kty = jwk.get("kid"), jwk.get("kty")
            # A symmetric ("oct") or encryption key in the set must never become a verifier.
            if not isinstance(kid, str) or jwk.get("use", "sig") != "sig" or kty not in ("RSA", "OKP"):
                log.warning("ignoring JWK kid=%r kty=%r: unusable for signature verification", kid, kty)
                continue
            try:
                key = (RSAAlgorithm if kty == "RSA" else OKPAlgorithm).from_jwk(jwk)
            except (jwt.InvalidKeyError, ValueError, KeyError) as exc:
                log.warning("ignoring JWK kid=%r: %s", kid, exc)
                continue
            alg = _alg_for(key)  # None for private keys, Ed448 and short RSA keys
            if alg is None or jwk.get("alg", alg) != alg:
                log.warning("ignoring JWK kid=%r: key type/alg not accepted", kid)
                continue
            keys[kid] = (key, alg)
        return keys

    def _key_for(self, kid: Any) -> tuple[Any, str] | None:
        if None in self._keys:
            return self._keys[None]
        if not isinstance(kid, str):
            return None
        found = self._keys.get(kid)
        if found is None and self.keys_path is not None:
            # A new kid may mean the file was rotated under us; re-read only if it changed,
            # so a flood of bogus kids costs a stat() each, not a parse.
            try:
                if self.keys_path.stat().st_mtime_ns != self._mtime_ns:
                    self.reload()
                    found = self._keys.get(kid)
            except (OSError, ValueError) as exc:
                log.warning("key reload failed: %s", exc)
        return found

    def verify(self, token: str) -> Principal:
        # A mobile app sends the same token with every request for its lifetime; the signature
        # check is most of verify()'s cost, and its outcome cannot change for the same bytes and
        # keys. Only the clock can, so a remembered token is re-checked against nbf/exp here.
        # Failures are never remembered.
        hit = self._verified.get(token)
        if hit is not None:
            principal, nbf, exp = hit
            now = time.time()
            if now > exp + LEEWAY_S:
                del self._verified[token]
                raise _invalid("token expired")
            if now < nbf - LEEWAY_S:
                raise _invalid("token not yet valid")
            return principal
        principal = self._verify(token)
        claims = principal.claims
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest: insertion order
        self._verified[token] = (principal, float(claims.get("nbf", float("-inf"))), float(claims["exp"]))
        return principal

    def _kid(self, token: str) -> Any:
        """The kid a token's header names, to pick the key by. Every token an issuer signs with one
        key carries the same header segment, and parsing it costs ~18 µs of a new token's ~120:
        remembered by the segment's exact text, which is all the answer depends on. It only picks
        the key; `jwt.decode` then checks the whole token, this header included, against it."""
        segment = token.partition(".")[0]
        try:
            return self._kids[segment]
        except KeyError:
            pass
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise _invalid("malformed token") from None
        if len(self._kids) >= _KID_CACHE_SIZE:
            del self._kids[next(iter(self._kids))]  # the oldest: insertion order
        self._kids[segment] = kid
        return kid

    def _verify(self, token: str) -> Principal:
        found = self._key_for(self._kid(token))
        if found is None:
            raise _invalid("unknown signing key")
        key, alg = found
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                leeway=LEEWAY_S, options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise _invalid(f"missing claim: {exc.claim}") from None
        except jwt.PyJWTError as exc:
            reason = next((r for t, r in _REASONS if isinstance(exc, t)), "invalid token")
            raise _invalid(reason) from None
        # PyJWT 2.10.0 matched a str issuer by substring (CVE-2024-53861); insist on equality.
        if claims.get("iss") != self.issuer:
            raise _invalid("wrong issuer")
        sub, role, org = claims.get("sub"), claims.get("role"), claims.get("org")
        if not isinstance(sub, str) or not sub:
            raise _invalid("missing claim: sub")
        if role is None:
            raise _invalid("missing claim: role")
        if role not in ROLES:
            raise _invalid("unknown role")
        if org is not None and (not isinstance(org, str) or not org):
            raise _invalid("bad org claim")
        return Principal(sub=sub, role=role, org=org, claims=claims)


def can_read(principal: Principal, org_code: str) -> bool:
    if principal.role == "service":
        return True
    if principal.role in _SCOPED_ROLES and principal.org:
        return org_within(org_code, principal.org)
    return False  # teachers and hosts are scoped by their own ids, never by org tree


def require_within(principal: Principal, org_code: str) -> None:
    if not can_read(principal, org_code):
        raise Problem(403, "out_of_scope", "超出管辖范围 Out of scope",
                      detail=f"org {org_code} is outside this principal's jurisdiction")


def require_role(principal: Principal, *roles: str) -> None:
    unknown = set(roles) - set(ROLES)
    if unknown:  # a typo here would silently lock everyone out
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    if principal.role not in roles:
        raise Problem(403, "forbidden_role", "角色无权操作 Role not permitted",
                      detail=f"requires one of: {', '.join(roles)}")


async def current_principal(request: Request) -> Principal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Problem(401, "missing_token", "缺少身份凭证 Missing token",
                      detail="send Authorization: Bearer <JWT>", headers={"WWW-Authenticate": "Bearer"})
    verifier: JwtVerifier = request.app.state.verifier
    principal = verifier.verify(token)
    spec = getattr(request.app.state, "spec", None)
    if principal.role in getattr(spec, "refused_roles", ()):
        # Whole-service refusal (shared/service.ServiceSpec.refused_roles): a route that forgets
        # a role check, or reads by scope alone, still serves this role nothing.
        raise Problem(403, "forbidden_role", "角色无权操作 Role not permitted",
                      detail=f"the {principal.role} role reads nothing in this service")
    return principal


Authenticated = Annotated[Principal, Depends(current_principal)]
