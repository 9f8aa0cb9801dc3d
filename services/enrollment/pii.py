"""Protection of national ID numbers at rest (DESIGN.md: no personal data on the bus).

One configured secret (Settings.pii_key, base64 of 32 bytes) yields two sub-keys, so the
look-up hash and the cipher never share a key:
- `lookup`: HMAC-SHA256 of the normalised number — deterministic, so a UNIQUE index finds a
  second registration of the same person; keyed, so a leaked table cannot be reversed by
  hashing all ~10^10 plausible numbers.
- `seal`/`open`: AES-256-GCM with a random 96-bit nonce, the teacher id as associated data (a
  ciphertext copied onto another teacher's row does not decrypt).
Without a key the service refuses teacher writes (503) instead of storing weakly.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.enrollment.domain.national_id import NationalId
from services.enrollment.titles import problem

_NONCE = 12
_LOOKUP_LABEL = b"tt/enrollment/national-id/lookup/v1"
_SEAL_LABEL = b"tt/enrollment/national-id/seal/v1"


class PiiKeyError(ValueError):
    pass


class PiiVault:
    def __init__(self, key_b64: str) -> None:
        if not key_b64:
            raise PiiKeyError("PII_KEY is not set")
        try:
            master = base64.b64decode(key_b64, validate=True)
        except (binascii.Error, ValueError):
            raise PiiKeyError("PII_KEY is not base64") from None
        if len(master) != 32:
            raise PiiKeyError("PII_KEY must decode to 32 bytes")
        # HMAC as a PRF for sub-key derivation (the HKDF-Expand step with one block).
        self._master = master
        self._lookup_key = hmac.digest(master, _LOOKUP_LABEL + b"\x01", hashlib.sha256)
        self._aead = AESGCM(hmac.digest(master, _SEAL_LABEL + b"\x01", hashlib.sha256))

    def __repr__(self) -> str:
        return "PiiVault(<key>)"

    def sub_key(self, label: bytes) -> bytes:
        """A key for another purpose of the same configured secret (check-in codes), as the two
        above are derived: one secret to keep, no key shared between purposes."""
        return hmac.digest(self._master, label + b"\x01", hashlib.sha256)

    def lookup(self, number: str) -> bytes:
        return hmac.digest(self._lookup_key, number.encode("ascii"), hashlib.sha256)

    def seal(self, number: str, teacher_id: uuid.UUID) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, number.encode("ascii"), teacher_id.bytes)

    def seal_many(self, people: Sequence[tuple[str, uuid.UUID]]) -> list[bytes]:
        """`seal` for many (number, teacher id) pairs: the same cipher, a fresh nonce each, all the
        nonces from one read of the OS's random source."""
        nonces = os.urandom(_NONCE * len(people))
        encrypt = self._aead.encrypt
        out = []
        for i, (number, teacher_id) in enumerate(people):
            nonce = nonces[i * _NONCE:(i + 1) * _NONCE]
            out.append(nonce + encrypt(nonce, number.encode("ascii"), teacher_id.bytes))
        return out

    def open(self, sealed: bytes, teacher_id: uuid.UUID) -> str:
        return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], teacher_id.bytes).decode("ascii")


def vault_for(app_state: Any) -> PiiVault:
    """The vault from the app's settings, or a 503 problem when none is configured."""
    key = getattr(app_state.settings, "pii_key", "")
    cached = getattr(app_state, "_pii_vault", None)
    if cached is not None and cached[0] == key:
        vault: PiiVault = cached[1]
        return vault
    try:
        vault = PiiVault(key)
    except PiiKeyError as exc:
        raise problem("pii_key_missing", f"{exc}; teacher records are not written without it", 503) from None
    app_state._pii_vault = (key, vault)
    return vault


# From this many people on, claim_identities writes by COPY (a roster import).
COPY_AT = 256
_IDENTITY_COLUMNS = ("teacher_id", "name", "national_id_hash", "national_id_enc", "national_id_masked", "birth_date")
_CLAIM = """
WITH ins AS (
    INSERT INTO teacher_identities (teacher_id, name, national_id_hash, national_id_enc, national_id_masked,
                                    birth_date)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::bytea[], $5::text[], $6::date[])
    ON CONFLICT ON CONSTRAINT teacher_identities_national_id DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM ins
"""


async def claim_identities(conn: asyncpg.Connection, vault: PiiVault,
                           people: Sequence[tuple[uuid.UUID, str, NationalId]],
                           hashes: Sequence[bytes] | None = None) -> int:
    """Store each teacher's name and sealed ID number, in the command's transaction, and return
    how many were new: the UNIQUE hash makes "one registration per person" race-free (a
    concurrent registration of the same number waits on the index entry, then conflicts), and
    domain/roster.check_new_people judges the count. `hashes`: the people's `vault.lookup`
    hashes when the caller already has them (an import checked its file with them)."""
    if hashes is None:
        hashes = [vault.lookup(nid.number) for _, _, nid in people]
    sealed = vault.seal_many([(nid.number, teacher_id) for teacher_id, _, nid in people])
    cols: list[list[Any]] = [[p[0] for p in people], [p[1] for p in people], list(hashes), sealed,
                             [p[2].masked for p in people], [p[2].birth_date for p in people]]
    if len(people) < COPY_AT:
        claimed: int = await conn.fetchval(_CLAIM, *cols)
        return claimed
    # A roster import: COPY, about twice as fast as the INSERT from arrays for thousands of rows.
    # COPY has no ON CONFLICT, so a person already registered (or registered concurrently: the
    # unique index makes COPY wait for that transaction, as the INSERT would) fails the whole COPY
    # — and the import is refused whole anyway. The count then says only "not all were new"; the
    # failed transaction is rolled back by that refusal, nothing runs in it after.
    try:
        await conn.copy_records_to_table("teacher_identities", columns=_IDENTITY_COLUMNS,
                                         records=zip(*cols, strict=True))
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "teacher_identities_national_id":
            raise
        return 0
    return len(people)


async def registered(conn: asyncpg.Connection, hashes: Sequence[bytes]) -> set[bytes]:
    """Which of these look-up hashes belong to teachers already on the roster."""
    rows = await conn.fetch("SELECT national_id_hash FROM teacher_identities WHERE national_id_hash = ANY($1)",
                            list(hashes))
    return {bytes(r[0]) for r in rows}
