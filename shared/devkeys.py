"""Local development signing key and token minting. Never used in production, where the
identity provider holds the private key and only its JWKS is mounted.

    python -m shared.devkeys ensure [--keys-dir DIR]
    python -m shared.devkeys token --role county_admin --org 610102 [--sub X] [--keys-dir DIR]

`token` prints only the token, so scripts can use $(make -s token ROLE=... ORG=...).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth import ROLES

PRIVATE_NAME = "dev-private.pem"
JWKS_NAME = "jwks.json"
DEV_ISSUER = "teacher-training-dev"
DEV_AUDIENCE = "teacher-training"
# Roles whose token is meaningless without an org (their scope or, for hosts, their id).
_ORG_ROLES = frozenset({"province_admin", "city_admin", "county_admin", "school_admin", "auditor", "finance", "host"})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _public_jwk(private: Ed25519PrivateKey) -> dict[str, str]:
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}
    # RFC 7638 thumbprint: the kid follows from the key, so regenerating the JWKS from the
    # same private key (or two processes racing) always yields the same file.
    kid = _b64url(hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest())
    return {**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"}


def _load_private(keys_dir: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key((keys_dir / PRIVATE_NAME).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{keys_dir / PRIVATE_NAME} is not an Ed25519 private key")
    return key


def _write_atomic(path: Path, data: bytes, *, exclusive: bool) -> None:
    # mkstemp creates 0600; publishing via link/replace means readers never see half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if exclusive:
            try:
                os.link(tmp, path)  # fails if another process already created the key
            except FileExistsError:
                pass
        else:
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def ensure_dev_keys(keys_dir: Path) -> Path:
    """Create the dev key pair once; returns the JWKS path. Safe to call concurrently."""
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(parents=True, exist_ok=True)
    private_path, jwks_path = keys_dir / PRIVATE_NAME, keys_dir / JWKS_NAME
    if not private_path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_atomic(private_path, pem, exclusive=True)
    jwks = json.dumps({"keys": [_public_jwk(_load_private(keys_dir))]}, indent=2).encode() + b"\n"
    if not jwks_path.exists() or jwks_path.read_bytes() != jwks:
        _write_atomic(jwks_path, jwks, exclusive=False)
    return jwks_path


def ensure_pii_key(keys_dir: Path) -> str:
    """A local PII key (base64 of 32 random bytes), created once and kept with the dev keys.

    Production supplies PII_KEY from a secret; losing it makes stored ID numbers unreadable.
    """
    path = Path(keys_dir) / "pii.key"
    if not path.exists():
        Path(keys_dir).mkdir(parents=True, exist_ok=True)
        try:
            _write_atomic(path, base64.b64encode(secrets.token_bytes(32)) + b"\n", exclusive=True)
        except FileExistsError:
            pass  # created concurrently
    return path.read_text().strip()


def mint_token(
    keys_dir: Path,
    role: str,
    org: str | None = None,
    sub: str | None = None,
    ttl_s: int = 3600 * 8,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    extra: dict[str, Any] | None = None,
) -> str:
    private = _load_private(Path(keys_dir))
    now = int(time.time())
    # A stable default sub, so repeated dev tokens act as the same person.
    default_sub = f"dev-{role}-{org}" if org else f"dev-{role}"
    claims: dict[str, Any] = {
        "sub": sub or default_sub,
        "role": role, "iss": issuer, "aud": audience, "iat": now, "exp": now + ttl_s,
    }
    if org:
        claims["org"] = org
    claims.update(extra or {})  # last, so tests can override or break any claim
    return jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": _public_jwk(private)["kid"]})


def _default_keys_dir() -> Path:
    from shared.settings import Settings

    return Settings().jwt_public_keys.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.devkeys", description="dev JWT keys and tokens")
    sub = parser.add_subparsers(dest="cmd", required=True)
    ensure = sub.add_parser("ensure", help="create the dev key pair if absent; prints the JWKS path")
    ensure.add_argument("--keys-dir", type=Path)
    tok = sub.add_parser("token", help="print a signed dev token and nothing else")
    tok.add_argument("--role", required=True)
    tok.add_argument("--org", default="", help="org code (empty = none, as `make token` passes)")
    tok.add_argument("--sub", default=None)
    tok.add_argument("--ttl", type=int, default=3600 * 8, help="lifetime in seconds")
    tok.add_argument("--keys-dir", type=Path)
    args = parser.parse_args(argv)

    keys_dir = args.keys_dir or _default_keys_dir()
    if args.cmd == "ensure":
        print(ensure_dev_keys(keys_dir))
        return 0
    if args.role not in ROLES:
        print(f"devkeys: unknown role {args.role!r}; expected one of: {', '.join(ROLES)}", file=sys.stderr)
        return 2
    if args.role in _ORG_ROLES and not args.org:
        print(f"devkeys: role {args.role} needs --org (ORG=<code>)", file=sys.stderr)
        return 2
    ensure_dev_keys(keys_dir)
    print(mint_token(keys_dir, args.role, org=args.org or None, sub=args.sub or None, ttl_s=args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
