"""Credits-only configuration (environment, prefix CREDITS_) and the certificate signing key.

| variable | default | meaning |
|---|---|---|
| CREDITS_SIGNING_KEY | unset | base64 of a 32-byte Ed25519 seed that signs certificates |
| CREDITS_KEYS_DIR | <repo>/.data/keys | where a local key is generated when the variable is unset |
| CREDITS_PUBLIC_URL | http://127.0.0.1:8002 | base URL printed in certificates for online checks |
| CREDITS_VERIFY_RATE, CREDITS_VERIFY_BURST | 5 per s, 20 | per-client bucket of public verification, all replicas |
| CREDITS_TRUST_FORWARDED_FOR | false | rate-limit by the last X-Forwarded-For entry, the one a trusted proxy appends |

Without CREDITS_SIGNING_KEY a seed is generated once into `<keys dir>/credits-signing.key` on
first use (like shared/devkeys.py does for the JWT keys); production mounts the variable from a
secret, because certificates signed by a lost key can no longer be checked against a new one.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import tempfile
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.credits.signing import Signer
from shared.settings import DEFAULT_DATA_DIR

KEY_FILE = "credits-signing.key"


class CreditsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDITS_", extra="ignore", case_sensitive=False)

    signing_key: str = ""
    keys_dir: Path = DEFAULT_DATA_DIR / "keys"
    public_url: str = "http://127.0.0.1:8002"
    verify_rate: float = 5.0
    verify_burst: int = 20
    trust_forwarded_for: bool = False


def _decode_seed(text: str, origin: str) -> bytes:
    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{origin} is not base64") from None
    if len(seed) != 32:
        raise ValueError(f"{origin} must decode to 32 bytes (an Ed25519 seed), got {len(seed)}")
    return seed


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64encode(secrets.token_bytes(32)) + b"\n")
        try:
            os.link(tmp, path)  # atomic and exclusive: a concurrent starter keeps the first key
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def load_signer(settings: CreditsSettings) -> Signer:
    if settings.signing_key:
        return Signer.from_seed(_decode_seed(settings.signing_key, "CREDITS_SIGNING_KEY"))
    path = Path(settings.keys_dir) / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return Signer.from_seed(_decode_seed(path.read_text(), str(path)))
