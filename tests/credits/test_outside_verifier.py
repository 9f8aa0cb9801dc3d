"""A verifier no one here wrote accepts our certificates (issue 16): Digital Bazaar's VC 2.0 stack
(@digitalbazaar/vc, data-integrity, eddsa-jcs-2022-cryptosuite, ed25519-multikey, did-method-key)
under Node.js, offline (tests/credits/verifier/verify.mjs: vendored contexts, did:key resolved from
the key). A certificate issued through the credits API verifies; one character of its subject
changed, it does not. Fails, never skips, without node or the verifier's node_modules."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from services.credits.signing import published
from tests.credits.given import completed, given_enrollment, jiangxi_world, ok, teacher

VERIFIER = Path(__file__).parent / "verifier"
SCHOOL = "360102001"
SIGNED_BEFORE = Path(__file__).parent / "data" / "certificate-signed-before-rfc8785.json"


def outside_verify(credential: dict) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the outside certificate verifier needs Node.js (then `make verifier`)")
    if not (VERIFIER / "node_modules" / "@digitalbazaar" / "vc").is_dir():
        pytest.fail("the outside certificate verifier is not installed: run `make verifier` (npm ci in "
                    "tests/credits/verifier)")
    run = subprocess.run([node, str(VERIFIER / "verify.mjs")], input=json.dumps(credential, ensure_ascii=False),
                         capture_output=True, text=True, timeout=60, cwd=VERIFIER)
    assert run.returncode in (0, 1), run.stderr
    result = json.loads(run.stdout)
    assert result["verified"] == (run.returncode == 0), run.stdout
    return result


@pytest.fixture(scope="module")
async def world(credits_app, as_role, clock):
    return await jiangxi_world(credits_app, as_role, clock)


async def test_an_issued_certificate_verifies_outside_and_not_once_its_subject_changes(world, credits_app, as_role):
    t = teacher(SCHOOL)
    tid = t.data["teacher_id"]
    await given_enrollment(credits_app, t, completed(tid, 45, "2023-04-01", SCHOOL[:6]),
                           completed(tid, 15, "2023-06-01", SCHOOL[:6]))
    issued = await ok(await as_role("teacher", sub=tid).post(f"/v1/teachers/{tid}/certificates",
                                                             json={"year": 2022}), 201)
    shown = await ok(await as_role(None).get(f"/v1/certificates/{issued['certificate_no']}"))
    credential = shown["credential"]
    assert outside_verify(credential) == {"verified": True, "errors": []}

    subject = credential["credentialSubject"]
    assert subject["result"][0]["value"] == "60"
    hours = copy.deepcopy(credential)
    hours["credentialSubject"]["result"][0]["value"] = "66"  # one digit of the hours
    assert not outside_verify(hours)["verified"]
    holder = copy.deepcopy(credential)
    h = subject["identifier"][0]["identityHash"]
    holder["credentialSubject"]["identifier"][0]["identityHash"] = h[:-1] + ("0" if h[-1] != "0" else "1")
    assert not outside_verify(holder)["verified"]


def test_a_certificate_signed_before_verifies_outside_as_shown():
    """Issued before the proof carried its @context: as the API shows it now (published()), the
    outside verifier accepts it; its stored form, a proof without the @context it was signed with,
    is what an eddsa-jcs-2022 verifier cannot check."""
    old = json.loads(SIGNED_BEFORE.read_text())
    assert outside_verify(published(old))["verified"]
    assert not outside_verify(old)["verified"]
    forged = published(old)
    forged["credentialSubject"]["result"][0]["value"] = "60.6"
    assert not outside_verify(forged)["verified"]
