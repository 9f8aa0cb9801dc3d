"""Service configuration, read only from the environment (pydantic-settings).

Every service reads the same variable names, so one ConfigMap shape fits all four; a
service-specific database is selected by giving each process its own DATABASE_URL.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / ".data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    service_name: str = "service"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    nats_url: str = "nats://127.0.0.1:4222"
    # Prefixes every JetStream stream name and subject. Tests give each module its own
    # namespace so streams never leak between tests; production leaves it empty.
    bus_namespace: str = ""
    # JetStream duplicate window: a relay that crashed after publishing but before deleting
    # its outbox row re-publishes within this window and the server drops the copy.
    nats_duplicate_window_s: float = 120.0
    nats_stream_replicas: int = 1
    # Retention of the service's own stream (docs/operations.md, "JetStream retention"): JetStream
    # is the transport, not the record, so it keeps a bounded history; a consumer that was away
    # longer catches up from the owner's /v1/events feed on its own. 0 = no limit. Each service
    # sets its own stream's limits. MAX_BYTES is reserved on every NATS server holding a replica,
    # against its max_file_store (75% of the 10Gi volume in deploy/k8s): 1 GiB for each of the
    # three owners' streams fits with room to spare.
    nats_stream_max_age_s: float = Field(default=7 * 24 * 3600, ge=0)
    nats_stream_max_bytes: int = Field(default=1024**3, ge=0)
    nats_stream_max_msgs: int = Field(default=0, ge=0)

    # JWT verification. Public keys as a JWKS file (kid-selected) or a PEM file.
    jwt_public_keys: Path = Field(default=DEFAULT_DATA_DIR / "keys" / "jwks.json")
    jwt_issuer: str = "teacher-training-dev"
    jwt_audience: str = "teacher-training"

    # Base URLs of the other services' /v1/events feeds, for projection rebuilds.
    enrollment_url: str = "http://127.0.0.1:8001"
    credits_url: str = "http://127.0.0.1:8002"
    funding_url: str = "http://127.0.0.1:8003"
    reporting_url: str = "http://127.0.0.1:8004"
    # Public base URLs of the four services, as other systems reach them (the ingress hosts):
    # every envelope's `dataschema` is its owner's URL + the path its schema is served at
    # (shared/envelope.py). Absolute http(s) URLs; a path prefix is kept.
    enrollment_public_url: str = "http://127.0.0.1:8001"
    credits_public_url: str = "http://127.0.0.1:8002"
    funding_public_url: str = "http://127.0.0.1:8003"
    reporting_public_url: str = "http://127.0.0.1:8004"
    # Token the service presents to the other services' feeds (role=service).
    service_token: str = ""

    # Enrollment: base64 of 32 random bytes. Encrypts national ID numbers (AES-GCM) and keys
    # their look-up hash (HMAC-SHA256). `make run` generates one under .data/keys.
    pii_key: str = ""

    # Apply this service's migrations in the lifespan, under the advisory lock. Kubernetes sets it
    # false: a Job runs `python -m shared.migrate <service>` once per release instead.
    migrate_on_start: bool = True

    # Request bodies (shared/limits.py): every request at most max_body_bytes; a route marked as
    # an upload (spreadsheet imports) at most max_upload_bytes, its 20 MiB file plus multipart framing.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=21 * 1024 * 1024, ge=1024)

    db_pool_min: int = 2
    db_pool_max: int = 10
    relay_batch_size: int = 500
    projection_batch_size: int = 256
    projection_max_deliveries: int = 5
    # Page size of a consumer's catch-up from an owner's /v1/events feed (shared/catchup.py).
    projection_catchup_page: int = Field(default=1000, ge=1, le=5000)
    # A background loop (relay, consumer) whose heartbeat has been quiet this long is named as
    # stalled by /readyz and tt_background_stalled (shared/supervise.py). Its turns wait at most a
    # few seconds when all is well.
    stall_after_s: float = Field(default=60.0, gt=0)
    # How long a command's Idempotency-Key replays its first answer. Mobile clients retry for
    # minutes or hours; a week covers a phone that was off over a weekend. Older keys are
    # deleted (they would otherwise grow without bound: docs/scale.md).
    idempotency_retention_hours: float = Field(default=168, gt=0)
    log_level: str = "INFO"
    # The dev profile (`make run` sets DEV_PROFILE=1; never set in a deployment): the dashboard's
    # sign-in page offers dev keys for any role and org, and commands honour an `X-Dev-Today` header
    # as the calendar day (shared/clock.py), so `make demo` can load three school years of history.
    dev_profile: bool = False

    @field_validator("enrollment_public_url", "credits_public_url", "funding_public_url", "reporting_public_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"must be an absolute http(s) URL without query or fragment, got {value!r}")
        return value.rstrip("/")

    def public_urls(self) -> dict[str, str]:
        """Each event owner's source ("/enrollment") → its public base URL (the *_public_url fields)."""
        return {f"/{name.removesuffix('_public_url')}": url for name, url in self if name.endswith("_public_url")}
