"""JWT attacks over HTTP: the verifier's unit tests (tests/test_auth.py) prove JwtVerifier refuses
these tokens; here every service's real app refuses them at a representative endpoint — a command
of each service that owns events, a report, and the `/v1/events` feed — with 401 problem+json
`invalid_token`, without echoing the token, and without writing anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from shared.devkeys import mint_token
from tests.funding.given import assessed
from tests.security.world import COUNTY, PROVINCE, SCHOOL, national_id
from tests.test_auth import b64url, claims, dev_private, hand_token, kid_of, sign

PROBLEM = "application/problem+json"


def attacks(keys_dir, role: str, org: str | None) -> dict[str, str]:
    """Forged, stale or malformed tokens, each otherwise carrying the claims of `role`/`org`."""
    good = claims(role=role, org=org, sub=f"attacker-{role}")
    kid = kid_of(keys_dir)
    pem = dev_private(keys_dir).public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    jwks = (keys_dir / "jwks.json").read_bytes()
    jwk = json.dumps(json.loads(jwks)["keys"][0]).encode()

    def hs256(secret: bytes) -> str:
        return hand_token({"alg": "HS256", "typ": "JWT", "kid": kid}, good,
                          lambda m: hmac.new(secret, m, hashlib.sha256).digest())

    now = int(time.time())
    h, _, s = mint_token(keys_dir, "teacher", sub="t-1").split(".")
    return {
        "alg none": hand_token({"alg": "none", "typ": "JWT", "kid": kid}, good),
        "alg none, no signature part": hand_token({"alg": "none", "typ": "JWT", "kid": kid}, good)[:-1],
        "HS256 keyed with the public key PEM": hs256(pem),
        "HS256 keyed with the JWKS file": hs256(jwks),
        "HS256 keyed with the JWK": hs256(jwk),
        "expired": sign(keys_dir, good | {"iat": now - 7200, "exp": now - 3600}),
        "not yet valid": sign(keys_dir, good | {"nbf": now + 3600}),
        "wrong issuer": sign(keys_dir, good | {"iss": "someone-else"}),
        "issuer a substring of ours": sign(keys_dir, good | {"iss": "teacher-training"}),
        "wrong audience": sign(keys_dir, good | {"aud": "other-system"}),
        "unknown kid": sign(keys_dir, good, kid="not-a-kid"),
        "no kid": sign(keys_dir, good, kid=None),
        "another key under our kid": jwt.encode(good, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA",
                                                headers={"kid": kid}),
        "tampered payload (teacher → admin)": f"{h}.{b64url(json.dumps(good).encode())}.{s}",
        "missing role": sign(keys_dir, claims(role=None, org=org)),
        "unknown role": sign(keys_dir, claims(role="superuser", org=org)),
        "missing exp": sign(keys_dir, claims(role=role, org=org, exp=None)),
        "garbage": "a.b.c",
    }


# service → (method, path, body, role, org) of a representative request. Bodies are valid and the
# principal allowed, so the same request with a genuine token gets through (checked below).
ENDPOINTS = {
    "enrollment": ("POST", "/v1/teachers", {
        "name": "攻击者", "national_id": national_id(70), "school_code": SCHOOL, "subject": "数学", "stage": "初中",
        "hired_on": "2020-09-01"}, "province_admin", PROVINCE),
    "credits": ("POST", "/v1/claims", {
        "teacher_id": "{T_A}", "hours": 1, "category": "centralized", "source": "workshop",
        "earned_on": "2023-09-20", "evidence": "档案 2023-099"}, "county_admin", COUNTY),
    "funding": ("POST", "/v1/allocations", {"from_code": COUNTY, "to_code": SCHOOL, "year": 2023, "amount_fen": 1},
                "county_admin", COUNTY),
    "reporting": ("GET", f"/v1/reports/rates?year=2023&region_code={COUNTY}", None, "province_admin", PROVINCE),
}
CASES = [(s, "endpoint") for s in ENDPOINTS] + [(s, "feed") for s in ("enrollment", "credits", "funding")]


async def written(world) -> dict[str, int]:
    await assessed(world.apps["funding"].state.pool)  # funding's verdicts in reaction to the world's commands
    out = {}
    for name, app in world.apps.items():
        async with app.state.pool.acquire() as conn:
            # Events (an outbox row only ever comes with one, and the relay removes it meanwhile)
            # and idempotency records (a refused request must not claim its key).
            out[name] = await conn.fetchval(
                "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM idempotency_keys)")
    return out


@pytest.mark.parametrize(("service", "which"), CASES, ids=[f"{s}-{w}" for s, w in CASES])
async def test_forged_and_stale_tokens_are_401_and_write_nothing(world, keys_dir, service, which):
    if which == "feed":
        method, path, body, role, org = "GET", "/v1/events?after=0&limit=5", None, "service", None
    else:
        method, path, body, role, org = ENDPOINTS[service]
        body = body and {k: v.replace("{T_A}", world.ids["T_A"]) if isinstance(v, str) else v
                         for k, v in body.items()}
    before = await written(world)
    wrong = []
    for i, (name, token) in enumerate(attacks(keys_dir, role, org).items()):
        c = world.as_(service, None, token=token)
        r = await c.request(method, path, json=body, headers={"Idempotency-Key": f"attack-{i}"})
        doc = r.json() if r.headers.get("content-type", "").startswith(PROBLEM) else {}
        if (r.status_code, doc.get("code")) != (401, "invalid_token") \
                or r.headers.get("www-authenticate") != 'Bearer error="invalid_token"' or token in r.text:
            wrong.append(f"{name}: {r.status_code} {r.text[:160]}")
    assert not wrong, f"{service} {method} {path}:\n" + "\n".join(wrong)
    assert await written(world) == before, "a refused token wrote something"

    # Not a credential at all: no Bearer scheme, or an empty one.
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", f"Token {mint_token(keys_dir, role, org=org)}"):
        r = await world.as_(service, None).request(method, path, json=body, headers={"Authorization": header})
        assert (r.status_code, r.json()["code"]) == (401, "missing_token"), (header, r.text)

    # The control: the same request with a genuine token is let through (and a command writes).
    r = await world.as_(service, role, org).request(method, path, json=body)
    assert r.status_code in (200, 201), r.text
    if method == "POST":
        assert (await written(world))[service] > before[service]
