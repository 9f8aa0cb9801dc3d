"""Certificates offline: numbers, masking, issuing rules, and the Ed25519 (eddsa-jcs-2022)
credential that another system verifies with nothing but the published JWKS."""

from __future__ import annotations

import copy
import json
import secrets
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.credits.credential import build_credential, identity_hash
from services.credits.domain.certificates import certificate_no, decide_issue, mask_id, well_formed
from services.credits.domain.ledger import Entry, Ledger
from services.credits.domain.policies import PolicyBook
from services.credits.signing import (
    Signer,
    b58decode,
    b58encode,
    jcs,
    keys_from_jwks,
    published,
    verify_credential,
)
from shared.refusal import Refused
from tests.credits.seeds import JIANGXI_2018

T = "7d3c0f5e-1111-4a4a-9b9b-00000000abcd"
CHAIN = ["360102001", "360102", "360100", "360000"]


def ledger(*hours: int) -> Ledger:
    from decimal import Decimal

    entries = [Entry(f"e{i}", T, "award", Decimal(h), "online", date(2023, 10, 1 + i), 2023, date(2023, 10, 1 + i))
               for i, h in enumerate(hours)]
    return Ledger(entries, PolicyBook([JIANGXI_2018]), CHAIN, None, date(2024, 3, 1))


def test_numbers_are_readable_well_formed_and_not_repeated():
    period = ledger(60).year(2023)
    numbers = {certificate_no("360000", period, secrets.token_bytes(10)) for _ in range(200)}
    assert len(numbers) == 200
    sample = next(iter(numbers))
    assert sample.startswith("JX-2023-") and well_formed(sample) and len(sample) == 27
    assert not any(c in sample[8:] for c in "ILOU")
    cycle = ledger(60).cycle()
    assert certificate_no("360000", cycle, bytes(10)) == "JX-2023-2027-0000-0000-0000-0000"  # the 2023—2027 cycle


def test_holder_is_masked():
    assert mask_id(T) == "7d3c****…****abcd" and T not in mask_id(T)


def test_a_certificate_needs_a_met_target_in_a_begun_period():
    good = decide_issue(ledger(40, 20).year(2023), teacher_id=T, current_year=2023, today=date(2024, 3, 1),
                        certificate_no="JX-2023-AAAA-AAAA-AAAA-AAAA")
    assert (good["hours"], good["credits"], good["target"], good["entry_ids"]) == (60, 3, 60, ["e0", "e1"])
    with pytest.raises(Refused) as exc:
        decide_issue(ledger(59).year(2023), teacher_id=T, current_year=2023, today=date(2024, 3, 1),
                     certificate_no="x")
    assert exc.value.code == "target_not_met"
    with pytest.raises(Refused) as exc:
        decide_issue(ledger(60).year(2024), teacher_id=T, current_year=2023, today=date(2024, 3, 1), certificate_no="x")
    assert exc.value.code == "period_not_started"


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.from_seed(bytes(range(32)))


@pytest.fixture(scope="module")
def credential(signer) -> dict:
    facts = decide_issue(ledger(40, 20).year(2023), teacher_id=T, current_year=2023, today=date(2024, 3, 1),
                         certificate_no="JX-2023-7K2M-Q9XD-4TRA-PW3E")
    return build_credential(facts, signer, "https://credits.example", salt="00112233")


def test_a_signed_credential_verifies_offline_with_the_published_keys(signer, credential):
    keys = keys_from_jwks(signer.jwks())
    assert verify_credential(credential, keys)
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["issuer"]["id"] == signer.did and signer.did.startswith("did:key:z6Mk")
    subject = credential["credentialSubject"]
    assert subject["result"][0]["value"] == "60" and subject["creditsEarned"] == 3
    assert subject["identifier"][0]["identityHash"] == identity_hash(T, "00112233")
    assert T not in jcs(credential).decode()  # no raw teacher id, let alone a name


@pytest.mark.parametrize("tamper", [
    lambda c: c["credentialSubject"]["result"][0].update(value="600"),
    lambda c: c["credentialSubject"].update(creditsEarned=30),
    lambda c: c.update(validFrom="2020-01-01T00:00:00+08:00"),
    lambda c: c["proof"].update(created="2030-01-01T00:00:00Z"),
    lambda c: c["proof"].update(proofValue=c["proof"]["proofValue"][:-2] + "11"),
    lambda c: c.pop("proof"),
])
def test_a_tampered_credential_fails_offline_verification(signer, credential, tamper):
    forged = copy.deepcopy(credential)
    tamper(forged)
    assert not verify_credential(forged, keys_from_jwks(signer.jwks()))


def test_a_credential_signed_by_another_key_fails(signer, credential):
    other = Signer.from_seed(bytes(32))
    forged = other.sign(copy.deepcopy(credential))
    assert not verify_credential(forged, keys_from_jwks(signer.jwks()))  # unknown key
    forged["proof"]["verificationMethod"] = signer.verification_method
    assert not verify_credential(forged, keys_from_jwks(signer.jwks()))  # bad signature


def test_canonical_json_and_base58():
    assert jcs({"b": 1.0, "a": [2.5, "学时"], "c": None}) == '{"a":[2.5,"学时"],"b":1,"c":null}'.encode()
    for raw in (b"", b"\0\0\x01", secrets.token_bytes(64)):
        assert b58decode(b58encode(raw)) == raw


def test_the_identity_hash_never_reads_as_a_national_id_number(monkeypatch):
    """A hex digest has a run of 18 digits about once in 700 salts; such a hash would be refused
    by the personal-data gate (shared/personal.py) and the certificate with it. The salt is drawn
    again until it has none."""
    import itertools

    from services.credits import credential
    from shared.personal import has_national_id

    tid = "7d3c0f5e-1111-4a4a-9b9b-000000000001"
    # A salt whose hash does have such a run exists (found by search), and is never the one chosen.
    bad = next(s for s in (f"{i:016x}" for i in itertools.count())
               if has_national_id(credential.identity_hash(tid, s)))
    draws = iter([bad, "00000000000000ff"])
    monkeypatch.setattr(credential.secrets, "token_hex", lambda n: next(draws))
    chosen = credential._salt(tid)
    assert chosen == "00000000000000ff" and not has_national_id(credential.identity_hash(tid, chosen))


SIGNED_BEFORE = Path(__file__).parent / "data" / "certificate-signed-before-rfc8785.json"


def test_a_certificate_signed_before_still_verifies_and_signs_to_the_same_bytes(signer):
    """data/certificate-signed-before-rfc8785.json was signed by the hand-written JCS and base58
    (and a proof without its @context): it still verifies, and today's signer, given the same
    facts, key, salt and time, produces the very same proofValue."""
    old = json.loads(SIGNED_BEFORE.read_text())
    keys = keys_from_jwks(signer.jwks())
    assert "@context" not in old["proof"] and verify_credential(old, keys)
    assert verify_credential(published(old), keys) and published(old)["proof"]["@context"] == old["@context"]
    facts = decide_issue(ledger(40, 20.5).year(2023), teacher_id=T, current_year=2023, today=date(2024, 3, 1),
                         certificate_no="JX-2023-7K2M-Q9XD-4TRA-PW3E")
    again = build_credential(facts, signer, "https://credits.example", created=datetime(2024, 3, 1, 2, 30, tzinfo=UTC),
                             salt="00112233")
    assert again == published(old) and again["proof"]["proofValue"] == old["proof"]["proofValue"]
    forged = copy.deepcopy(old)
    forged["credentialSubject"]["result"][0]["value"] = "60.6"
    assert not verify_credential(forged, keys)


def test_the_proof_carries_the_documents_context(signer, credential):
    """vc-di-eddsa §3.3.1: the proof config, and so the published proof, carries the @context."""
    assert credential["proof"]["@context"] == credential["@context"]
    keys = keys_from_jwks(signer.jwks())
    for proof_context in (["https://example.org/other"], "https://www.w3.org/ns/credentials/v2"):
        forged = copy.deepcopy(credential)
        forged["proof"]["@context"] = proof_context
        assert not verify_credential(forged, keys)
