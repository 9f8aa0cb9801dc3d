"""JWT verification, org scoping and the dev key tooling. Pure: no database, no NATS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from shared.auth import (
    ROLES,
    Authenticated,
    JwtVerifier,
    Principal,
    can_read,
    org_within,
    require_role,
    require_within,
)
from shared.devkeys import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keys, mint_token
from shared.problems import Problem, install_problem_handlers

REPO = Path(__file__).resolve().parent.parent


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def kid_of(keys_dir: Path) -> str:
    return json.loads((keys_dir / "jwks.json").read_text())["keys"][0]["kid"]


def dev_private(keys_dir: Path):
    return serialization.load_pem_private_key((keys_dir / "dev-private.pem").read_bytes(), None)


def sign(keys_dir: Path, payload: dict, kid: str | None = "default") -> str:
    headers = {"kid": kid_of(keys_dir) if kid == "default" else kid} if kid else None
    return jwt.encode(payload, dev_private(keys_dir), algorithm="EdDSA", headers=headers)


def claims(**over) -> dict:
    now = int(time.time())
    base = {"sub": "u1", "role": "county_admin", "org": "610102", "iss": DEV_ISSUER, "aud": DEV_AUDIENCE,
            "iat": now, "exp": now + 600}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def hand_token(header: dict, payload: dict, sign=lambda signing_input: b"") -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def assert_invalid(verifier: JwtVerifier, token: str, reason: str | None = None) -> Problem:
    with pytest.raises(Problem) as ei:
        verifier.verify(token)
    p = ei.value
    assert (p.status, p.code) == (401, "invalid_token")
    assert p.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    if len(token) > 8:  # the detail must never echo the token back
        assert token not in (p.detail or "")
    if reason is not None:
        assert reason in (p.detail or "")
    return p


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    ensure_dev_keys(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def verifier(keys_dir: Path) -> JwtVerifier:
    return JwtVerifier(keys_dir / "jwks.json", DEV_ISSUER, DEV_AUDIENCE)


@pytest.fixture
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def rsa_verifier(rsa_key) -> JwtVerifier:
    jwk = RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True) | {"kid": "rsa-1"}
    return JwtVerifier.from_jwks({"keys": [jwk]}, DEV_ISSUER, DEV_AUDIENCE)


# --- accepted tokens ---------------------------------------------------------------------

def test_valid_eddsa_token(keys_dir, verifier):
    p = verifier.verify(mint_token(keys_dir, "county_admin", org="610102"))
    assert (p.sub, p.role, p.org) == ("dev-county_admin-610102", "county_admin", "610102")
    assert p.actor() == {"sub": "dev-county_admin-610102", "role": "county_admin", "org": "610102"}
    assert p.claims["iss"] == DEV_ISSUER


def test_valid_rs256_token(rsa_key, rsa_verifier):
    token = jwt.encode(claims(role="auditor"), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
    p = rsa_verifier.verify(token)
    assert (p.sub, p.role, p.org) == ("u1", "auditor", "610102")


def test_rsa_key_accepts_only_rs256(rsa_key, rsa_verifier):
    # A genuine signature by the right key, but with an algorithm the key is not pinned to.
    token = jwt.encode(claims(), rsa_key, algorithm="PS256", headers={"kid": "rsa-1"})
    assert_invalid(rsa_verifier, token, "algorithm")


def test_single_pem_public_key(tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "pub.pem").write_bytes(pem)
    v = JwtVerifier(tmp_path / "pub.pem", DEV_ISSUER, DEV_AUDIENCE)
    assert v.verify(jwt.encode(claims(), key, algorithm="EdDSA")).sub == "u1"


# --- rejected tokens ---------------------------------------------------------------------

def test_expired(keys_dir, verifier):
    assert_invalid(verifier, mint_token(keys_dir, "teacher", ttl_s=-3600), "expired")


def test_exp_required(keys_dir, verifier):
    assert_invalid(verifier, sign(keys_dir, claims(exp=None)), "exp")


def test_not_yet_valid(keys_dir, verifier):
    token = mint_token(keys_dir, "teacher", extra={"nbf": int(time.time()) + 3600})
    assert_invalid(verifier, token, "not yet valid")


def test_small_clock_skew_tolerated(keys_dir, verifier):
    token = mint_token(keys_dir, "teacher", extra={"nbf": int(time.time()) + 5})
    assert verifier.verify(token).role == "teacher"


def test_a_remembered_token_is_refused_once_it_expires(keys_dir, verifier, monkeypatch):
    token = mint_token(keys_dir, "teacher", ttl_s=60)
    assert verifier.verify(token).role == "teacher"
    assert verifier.verify(token).role == "teacher"  # the second time from memory
    later = time.time() + 60 + 31  # past exp and the 30 s leeway
    monkeypatch.setattr(time, "time", lambda: later)
    assert_invalid(verifier, token, "expired")


def test_a_remembered_token_is_not_valid_before_its_nbf(keys_dir, verifier, monkeypatch):
    nbf = int(time.time()) + 20  # inside the leeway now, outside it at the earlier clock below
    token = mint_token(keys_dir, "teacher", extra={"nbf": nbf})
    assert verifier.verify(token).role == "teacher"
    monkeypatch.setattr(time, "time", lambda: nbf - 31)
    assert_invalid(verifier, token)


def test_wrong_audience(keys_dir, verifier):
    assert_invalid(verifier, mint_token(keys_dir, "teacher", audience="other-system"), "audience")


@pytest.mark.parametrize("iss", ["someone-else", "teacher-training"])  # 2nd: substring of the real one
def test_wrong_issuer(keys_dir, verifier, iss):
    assert_invalid(verifier, mint_token(keys_dir, "teacher", issuer=iss), "issuer")


def test_alg_none(keys_dir, verifier):
    token = hand_token({"alg": "none", "typ": "JWT", "kid": kid_of(keys_dir)}, claims())
    assert token.endswith(".")
    assert_invalid(verifier, token)


@pytest.mark.parametrize("kind", ["pem", "jwks"])
def test_hs256_with_public_key_as_secret(tmp_path, keys_dir, kind):
    pem = dev_private(keys_dir).public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "pub.pem").write_bytes(pem)
    path = tmp_path / "pub.pem" if kind == "pem" else keys_dir / "jwks.json"
    v = JwtVerifier(path, DEV_ISSUER, DEV_AUDIENCE)
    secrets = [pem, (keys_dir / "jwks.json").read_bytes()]
    for secret in secrets:
        token = hand_token({"alg": "HS256", "typ": "JWT", "kid": kid_of(keys_dir)}, claims(),
                           lambda m, s=secret: hmac.new(s, m, hashlib.sha256).digest())
        assert_invalid(v, token, "algorithm")


def test_unknown_kid(keys_dir, verifier):
    assert_invalid(verifier, sign(keys_dir, claims(), kid="not-a-kid"), "unknown signing key")


def test_missing_kid_with_jwks(keys_dir, verifier):
    assert_invalid(verifier, sign(keys_dir, claims(), kid=None), "unknown signing key")


def test_other_key_same_kid(keys_dir, verifier):
    impostor = ed25519.Ed25519PrivateKey.generate()
    token = jwt.encode(claims(), impostor, algorithm="EdDSA", headers={"kid": kid_of(keys_dir)})
    assert_invalid(verifier, token, "signature")


def test_a_small_order_key_in_the_set_vouches_for_nothing():
    # The identity point as a "public key": under it the signature (identity, 0) satisfies the
    # verification equation for every message, so a lax check lets anyone mint any token. A
    # mistyped or hostile entry in a JWKS must not become a master key. OpenSSL's Ed25519 (what
    # PyJWT uses by itself) accepts such a signature; libsodium refuses small-order keys.
    identity = bytes([1]) + bytes(31)
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k0", "use": "sig", "alg": "EdDSA",
                      "x": b64url(identity)}]}
    lax = JwtVerifier.from_jwks(jwks, DEV_ISSUER, DEV_AUDIENCE)
    forged = hand_token({"alg": "EdDSA", "typ": "JWT", "kid": "k0"}, claims(role="province_admin", org="610000"),
                        sign=lambda signing_input: identity + bytes(32))
    assert_invalid(lax, forged, "signature")


@pytest.mark.parametrize(("over", "reason"), [
    ({"role": None}, "role"),
    ({"role": "superuser"}, "unknown role"),
    ({"sub": None}, "sub"),
    ({"org": 610102}, "org"),
])
def test_bad_claims(keys_dir, verifier, over, reason):
    assert_invalid(verifier, sign(keys_dir, claims(**over)), reason)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 50])
def test_malformed(verifier, garbage):
    assert_invalid(verifier, garbage)


def test_tampered_payload(keys_dir, verifier):
    h, _, s = mint_token(keys_dir, "county_admin", org="610102").split(".")
    forged = b64url(json.dumps(claims(role="province_admin", org="610000")).encode())
    assert_invalid(verifier, f"{h}.{forged}.{s}", "signature")


def test_a_header_seen_before_vouches_for_nothing(keys_dir, verifier):
    """The verifier remembers which key a header names (JwtVerifier._kid); a forged token that
    reuses a verified token's header, and even its signature, is still checked whole."""
    genuine = mint_token(keys_dir, "county_admin", org="610102")
    assert verifier.verify(genuine).role == "county_admin"
    h, _, s = genuine.split(".")
    forged = b64url(json.dumps(claims(role="province_admin", org="610000")).encode())
    assert_invalid(verifier, f"{h}.{forged}.{s}", "signature")
    assert_invalid(verifier, f"{h}.{forged}.", "signature")
    assert verifier.verify(mint_token(keys_dir, "teacher")).role == "teacher"  # same header, new token


def test_reload_picks_up_rotated_keys(tmp_path, keys_dir, verifier):
    old = mint_token(keys_dir, "teacher")
    assert verifier.verify(old).role == "teacher"  # remembered as verified …
    new_dir = tmp_path / "rotated"
    ensure_dev_keys(new_dir)
    (keys_dir / "jwks.json").write_bytes((new_dir / "jwks.json").read_bytes())
    verifier.reload()
    assert verifier.verify(mint_token(new_dir, "teacher")).role == "teacher"
    assert_invalid(verifier, old, "unknown signing key")  # … yet refused once its key is gone


def test_unknown_kid_rereads_rotated_file(tmp_path, keys_dir, verifier):
    new_dir = tmp_path / "rotated"
    ensure_dev_keys(new_dir)
    jwks_path = keys_dir / "jwks.json"
    jwks_path.write_bytes((new_dir / "jwks.json").read_bytes())
    os.utime(jwks_path, ns=(0, jwks_path.stat().st_mtime_ns + 10**9))  # coarse-mtime filesystems
    assert verifier.verify(mint_token(new_dir, "teacher")).role == "teacher"  # no explicit reload()


def test_unusable_jwks_entries_ignored(rsa_key):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    jwks = {"keys": [
        {"kty": "oct", "kid": "sym", "k": b64url(b"secret")},
        RSAAlgorithm.to_jwk(small.public_key(), as_dict=True) | {"kid": "small"},
    ]}
    v = JwtVerifier.from_jwks(jwks, DEV_ISSUER, DEV_AUDIENCE)
    hs = hand_token({"alg": "HS256", "kid": "sym"}, claims(),
                    lambda m: hmac.new(b"secret", m, hashlib.sha256).digest())
    assert_invalid(v, hs, "unknown signing key")
    with warnings.catch_warnings():  # PyJWT warns about signing with a short key; that is the point
        warnings.simplefilter("ignore")
        weak = jwt.encode(claims(), small, algorithm="RS256", headers={"kid": "small"})
    assert_invalid(v, weak, "unknown signing key")


# --- org scope ---------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "ancestor", "expected"), [
    ("610000", "610000", True),
    ("610100", "610000", True),
    ("610102", "610000", True),
    ("610102001", "610000", True),
    ("610102", "610100", True),
    ("610102001", "610100", True),
    ("610102001", "610102", True),
    ("610102001", "610102001", True),
    ("419001", "410000", True),  # Jiyuan: county-level city directly under Henan
    ("419001", "410100", False),
    ("610200", "610100", False),
    ("620100", "610000", False),
    ("610103", "610102", False),
    ("610000", "610100", False),  # a child never covers its parent
    ("610100", "610102", False),
    ("610102", "610102001", False),  # a school covers only itself
    ("610102002", "610102001", False),
    ("6101020011", "610102001", False),
    ("610103", "610102100", False),  # a school code ending in 00 is still not a city
    ("6101", "610000", False),
    ("61010x", "610000", False),
    ("host-7", "host-7", True),
    ("host-7", "host-8", False),
    ("610102", "host-7", False),
])
def test_org_within(code, ancestor, expected):
    assert org_within(code, ancestor) is expected


@pytest.mark.parametrize(("role", "org", "target", "expected"), [
    ("service", None, "610102001", True),
    ("province_admin", "610000", "610102001", True),
    ("city_admin", "610100", "610102", True),
    ("county_admin", "610102", "610103", False),
    ("school_admin", "610102001", "610102001", True),
    ("school_admin", "610102001", "610102", False),
    ("auditor", "410000", "419001", True),
    ("teacher", "610102", "610102", False),
    ("host", "610000", "610000", False),
    ("county_admin", None, "610102", False),
])
def test_can_read(role, org, target, expected):
    assert can_read(Principal(sub="s", role=role, org=org), target) is expected


def test_require_within_out_of_scope():
    p = Principal(sub="s", role="county_admin", org="610102")
    require_within(p, "610102001")
    with pytest.raises(Problem) as ei:
        require_within(p, "610103")
    assert (ei.value.status, ei.value.code) == (403, "out_of_scope")


def test_require_role():
    p = Principal(sub="s", role="teacher", org=None)
    require_role(p, "teacher", "service")
    with pytest.raises(Problem) as ei:
        require_role(p, "county_admin")
    assert (ei.value.status, ei.value.code) == (403, "forbidden_role")
    with pytest.raises(ValueError):
        require_role(p, "county_admim")


def test_principal_hashable_and_roles():
    assert hash(Principal("s", "teacher", None, {"a": 1})) == hash(Principal("s", "teacher", None))
    assert set(ROLES) == {"province_admin", "city_admin", "county_admin", "school_admin",
                          "host", "auditor", "finance", "teacher", "service", "ops"}


def test_finance_is_scoped_to_its_org_subtree_like_an_auditor():
    """Issue 20: 财务 reads within the subtree of its `org` claim, nothing outside it."""
    finance = Principal("f", "finance", "610100")
    assert can_read(finance, "610102001") and can_read(finance, "610100")
    assert not can_read(finance, "610200") and not can_read(Principal("f", "finance", None), "610100")


# --- FastAPI dependency ------------------------------------------------------------------

@pytest.fixture
def client(verifier) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.verifier = verifier

    @app.get("/me")
    async def me(principal: Authenticated) -> dict:
        return principal.actor()

    return TestClient(app)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a b"])
def test_dependency_missing_token(client, header):
    r = client.get("/me", headers={"Authorization": header} if header is not None else {})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "missing_token"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_dependency_invalid_token(client, keys_dir):
    r = client.get("/me", headers={"Authorization": f"Bearer {mint_token(keys_dir, 'teacher', ttl_s=-3600)}"})
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_dependency_valid_token(client, keys_dir):
    token = mint_token(keys_dir, "city_admin", org="610100")
    r = client.get("/me", headers={"Authorization": f"bearer {token}"})
    assert r.status_code == 200
    assert r.json() == {"sub": "dev-city_admin-610100", "role": "city_admin", "org": "610100"}


# --- dev keys ----------------------------------------------------------------------------

def test_ensure_dev_keys_idempotent(tmp_path):
    d = tmp_path / "k"
    jwks_path = ensure_dev_keys(d)
    first = (jwks_path.read_bytes(), (d / "dev-private.pem").read_bytes())
    assert ensure_dev_keys(d) == jwks_path
    assert (jwks_path.read_bytes(), (d / "dev-private.pem").read_bytes()) == first
    assert stat.S_IMODE(os.stat(d / "dev-private.pem").st_mode) == 0o600
    (jwk,) = json.loads(first[0])["keys"]
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519") and jwk["kid"] and "d" not in jwk


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shared.devkeys", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


def test_cli_token_prints_one_verifiable_line(tmp_path):
    d = tmp_path / "cli-keys"
    r = run_cli("token", "--role", "county_admin", "--org", "610102", "--keys-dir", str(d))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1
    p = JwtVerifier(d / "jwks.json", DEV_ISSUER, DEV_AUDIENCE).verify(lines[0])
    assert (p.role, p.org, p.sub) == ("county_admin", "610102", "dev-county_admin-610102")


def test_cli_service_token_with_empty_org(tmp_path):
    # `make token ROLE=service` passes --org "" when ORG is unset.
    d = tmp_path / "cli-keys"
    r = run_cli("token", "--role", "service", "--org", "", "--sub", "svc-credits", "--keys-dir", str(d))
    assert r.returncode == 0, r.stderr
    p = JwtVerifier(d / "jwks.json", DEV_ISSUER, DEV_AUDIENCE).verify(r.stdout.strip())
    assert (p.role, p.org, p.sub) == ("service", None, "svc-credits")


def test_cli_rejects_unknown_role(tmp_path):
    r = run_cli("token", "--role", "superuser", "--org", "610102", "--keys-dir", str(tmp_path / "k"))
    assert r.returncode == 2
    assert r.stdout == ""
    assert "unknown role" in r.stderr and "county_admin" in r.stderr


def test_cli_default_keys_dir_follows_settings(tmp_path):
    jwks_path = tmp_path / "from-env" / "jwks.json"
    r = run_cli("token", "--role", "teacher", "--sub", "t-42", env={"JWT_PUBLIC_KEYS": str(jwks_path)})
    assert r.returncode == 0, r.stderr
    assert JwtVerifier(jwks_path, DEV_ISSUER, DEV_AUDIENCE).verify(r.stdout.strip()).sub == "t-42"
