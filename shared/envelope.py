"""The event envelope: CloudEvents 1.0 attributes plus the audit and tracing extensions
every event in this system carries (correlationid, causationid, actor, traceparent).

Envelopes are immutable once recorded. A schema change bumps `schemaversion` and registers an
upcaster; readers only ever see the newest shape (upcasting happens on load, never on disk).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from asyncpg.pgproto.pgproto import UUID as FastUUID
from pydantic import BaseModel, ValidationError

from .personal import PersonalDataError, may_hold_national_id, paths_with_national_ids

SPEC_VERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"
# NATS carries each event in CloudEvents' structured mode (docs/events.md): the whole envelope as
# the message body, labelled with this content type in the message's headers.
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
# On the wire a type is reverse-DNS, with its schema version: TeacherNominated of enrollment, v1, is
# cn.teachertraining.enrollment.teacher_nominated.v1. Inside a service it stays "TeacherNominated"
# (registries, projections, subjects); readers accept both spellings, so envelopes written before
# the prefix (dead letters, a peer not yet upgraded) still parse.
TYPE_PREFIX = "cn.teachertraining."
# Every envelope names its data's JSON Schema (CloudEvents `dataschema`): the committed file
# docs/events/<service>/<event>.v<N>.json, served by the owning service at this path (issue 16),
# named by an absolute URL on the owner's public origin (set_schema_origins): CloudEvents types
# `dataschema` as an absolute URI, and strict readers (the Rust and .NET SDKs) refuse a bare path.
SCHEMA_PATH = "/v1/events/schemas"
# Where an owner's origin is not configured (a script, a test's own source), a URL that is
# absolute all the same; a service sets every owner's public origin at start (shared/service.py).
FALLBACK_SCHEMA_ORIGIN = "http://localhost"
_schema_origins: dict[str, str] = {}
_wire_types: dict[tuple[str, str, int], str] = {}
_data_schemas: dict[tuple[str, str, int], str] = {}
_inner_types: dict[str, tuple[str, int | None]] = {}
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
_REQUIRED = frozenset({"id", "source", "type", "subject", "time", "data"})
_fromisoformat = datetime.fromisoformat


def parse_uuid(text: str) -> uuid.UUID:
    """A UUID from its text, as uuid.UUID reads it, in a fifth of the time for the usual 32-36 hex
    digit forms: asyncpg's C implementation (a uuid.UUID subclass, equal and hashing alike; asyncpg
    already hands such UUIDs back for every uuid column). Other forms go to uuid.UUID itself."""
    try:
        fast: uuid.UUID = FastUUID(text)
        return fast
    except (ValueError, TypeError):
        return uuid.UUID(text)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event a command decided on, before the store gives it a stream version."""

    type: str
    data: dict[str, Any]
    schema_version: int = 1
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        # Every event a service records is built here (routes, bulk imports, reactions), so this
        # is the one gate between a pasted national ID number and the store, outbox and bus.
        if may_hold_national_id(self.data) and (paths := paths_with_national_ids(self.data)):
            raise PersonalDataError(self.type, paths)

    @classmethod
    def many(cls, events: Sequence[tuple[str, dict[str, Any], int]], event_ids: Sequence[uuid.UUID]
             ) -> list[NewEvent]:
        """(type, data, schema version) events through the same gate, checked at once: the data of
        all of them is serialised and searched once (a bulk import's thousands of events), which
        finds a number exactly when one event's own check would — the serialised list is the
        events' texts joined by commas, and a number never spans a comma. Then each event is
        checked on its own, so the refusal names the event and field, as one event's would."""
        if may_hold_national_id([d for _, d, _ in events]):
            return [cls(t, d, v, eid) for (t, d, v), eid in zip(events, event_ids, strict=True)]
        out: list[NewEvent] = []
        for (t, d, v), eid in zip(events, event_ids, strict=True):
            ev = object.__new__(cls)  # what __init__ does, without the per-event check just done for all
            object.__setattr__(ev, "type", t)
            object.__setattr__(ev, "data", d)
            object.__setattr__(ev, "schema_version", v)
            object.__setattr__(ev, "event_id", eid)
            out.append(ev)
        return out


def uuid4s(n: int) -> list[uuid.UUID]:
    """`n` random (version 4) UUIDs, as uuid.uuid4 makes them, from one read of the OS's random source."""
    raw = os.urandom(16 * n)
    return [uuid.UUID(bytes=raw[i:i + 16], version=4) for i in range(0, 16 * n, 16)]


@dataclass(frozen=True, slots=True)
class Envelope:
    id: uuid.UUID
    source: str  # the owning service, e.g. "/enrollment"
    type: str
    subject: str  # the stream id, e.g. "project-<uuid>"
    time: datetime
    data: dict[str, Any]
    schema_version: int = 1
    stream_version: int = 0
    position: int = 0
    correlation_id: str | None = None
    causation_id: str | None = None
    actor: dict[str, Any] | None = None
    traceparent: str | None = None

    @property
    def category(self) -> str:
        """Aggregate kind, taken from the stream id prefix ("project-…" → "project")."""
        return self.subject.split("-", 1)[0]

    def to_cloudevent(self) -> dict[str, Any]:
        """The envelope as a structured-mode CloudEvent: every extension attribute a scalar
        (CloudEvents 1.0 §"Extension Context Attributes"), the actor as actorid/actorrole/actororg."""
        ce: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": str(self.id),
            "source": self.source,
            "type": wire_type(self.source, self.type, self.schema_version),
            "subject": self.subject,
            "time": self.time.isoformat(),
            "datacontenttype": DATA_CONTENT_TYPE,
            "dataschema": data_schema_url(self.source, self.type, self.schema_version),
            "schemaversion": self.schema_version,
            "streamversion": self.stream_version,
            "position": self.position,
            "data": self.data,
        }
        if self.correlation_id:
            ce["correlationid"] = self.correlation_id
        if self.causation_id:
            ce["causationid"] = self.causation_id
        if self.actor:
            for key, attr in _ACTOR_ATTRIBUTES:
                if (value := self.actor.get(key)) is not None:
                    ce[attr] = value
        if self.traceparent:
            ce["traceparent"] = self.traceparent
        return ce

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_cloudevent())

    @classmethod
    def from_cloudevent(cls, ce: dict[str, Any]) -> Envelope:
        # Every delivery a projection applies is parsed here (a batch of 256 at a time): positional
        # arguments and asyncpg's C UUID make it about half the cost of keyword arguments and
        # uuid.UUID's pure-Python parser, for the same envelope.
        get = ce.get
        try:
            type_, version = inner_type(ce["type"])
            return cls(parse_uuid(ce["id"]), ce["source"], type_, ce["subject"], _fromisoformat(ce["time"]),
                       ce["data"], version or int(get("schemaversion", 1)), int(get("streamversion", 0)),
                       int(get("position", 0)), get("correlationid"), get("causationid"),
                       _actor(ce) if "actorrole" in ce or "actor" in ce else None, get("traceparent"))
        except (KeyError, ValueError, TypeError):
            if missing := _REQUIRED - ce.keys():  # said first, as before this was made fast
                raise ValueError(f"not a CloudEvent of ours, missing {sorted(missing)}") from None
            raise

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        return cls.from_cloudevent(orjson.loads(raw))


_ACTOR_ATTRIBUTES = (("sub", "actorid"), ("role", "actorrole"), ("org", "actororg"))


def _actor(ce: dict[str, Any]) -> dict[str, Any] | None:
    old = ce.get("actor")  # before the scalar attributes: one JSON object
    if isinstance(old, dict):
        return old
    actor = {key: ce[attr] for key, attr in _ACTOR_ATTRIBUTES if attr in ce}
    return actor or None


def wire_type(source: str, type_: str, schema_version: int) -> str:
    """TeacherNominated of /enrollment, v1 → cn.teachertraining.enrollment.teacher_nominated.v1."""
    key = (source, type_, schema_version)
    if (found := _wire_types.get(key)) is None:
        found = _wire_types[key] = (f"{TYPE_PREFIX}{source.strip('/').replace('/', '.')}."
                                    f"{_SNAKE.sub('_', type_).lower()}.v{schema_version}")
    return found


def data_schema_path(source: str, type_: str, schema_version: int) -> str:
    """TeacherNominated of /enrollment, v1 → /v1/events/schemas/enrollment/teacher_nominated.v1.json:
    where the owning service serves the schema."""
    return f"{SCHEMA_PATH}/{source.strip('/')}/{_SNAKE.sub('_', type_).lower()}.v{schema_version}.json"


def data_schema_url(source: str, type_: str, schema_version: int) -> str:
    """An envelope's `dataschema`: data_schema_path on the owner's public origin, e.g.
    https://enrollment.example.org/v1/events/schemas/enrollment/teacher_nominated.v1.json."""
    key = (source, type_, schema_version)
    if (found := _data_schemas.get(key)) is None:
        origin = _schema_origins.get(source, FALLBACK_SCHEMA_ORIGIN)
        found = _data_schemas[key] = origin + data_schema_path(source, type_, schema_version)
    return found


def set_schema_origins(origins: dict[str, str]) -> None:
    """The public base URL of each event owner (source "/enrollment" → "https://enrollment.example.org"),
    from the settings (`ENROLLMENT_PUBLIC_URL`, …), for every envelope this process writes out:
    its own events on NATS and the feed, and other owners' events in its dead letters."""
    _schema_origins.clear()
    _schema_origins.update({source: origin.rstrip("/") for source, origin in origins.items()})
    _data_schemas.clear()


def inner_type(wire: str) -> tuple[str, int | None]:
    """(TeacherNominated, 1) for cn.teachertraining.enrollment.teacher_nominated.v1; an unprefixed
    type (an envelope from before the prefix) as it is, with no version of its own."""
    if (found := _inner_types.get(wire)) is None:
        if wire.startswith(TYPE_PREFIX):
            *_, name, version = wire.split(".")
            if not (version[:1] == "v" and version[1:].isdigit()):
                raise ValueError(f"event type {wire!r} names no version (….v1)")
            found = ("".join(part.capitalize() for part in name.split("_")), int(version[1:]))
        else:
            found = (wire, None)
        if len(_inner_types) < 10_000:  # a bounded memo: types are few, junk input is not
            _inner_types[wire] = found
    return found


@dataclass(frozen=True, slots=True)
class Metadata:
    """What a command knows about why it runs; stamped on every event it records."""

    correlation_id: str | None = None
    causation_id: str | None = None
    actor: dict[str, Any] | None = None
    traceparent: str | None = None

    def as_json(self) -> dict[str, Any]:
        # Every event a reaction records has its own (a credits intake batch: 256): no dict built
        # to be filtered into another.
        out: dict[str, Any] = {}
        if self.correlation_id is not None:
            out["correlationid"] = self.correlation_id
        if self.causation_id is not None:
            out["causationid"] = self.causation_id
        if self.actor is not None:
            out["actor"] = self.actor
        if self.traceparent is not None:
            out["traceparent"] = self.traceparent
        return out

    @classmethod
    def caused_by(cls, event: Envelope, actor: dict[str, Any] | None = None,
                  traceparent: str | None = None) -> Metadata:
        """Metadata for an event a projection or policy emits in reaction to `event`.

        `traceparent` is the reacting span (e.g. the projection's apply span), so the trace shows
        command → relay → apply → the reaction's publish as one chain; without it the reaction
        hangs off the original command's span."""
        return cls(
            correlation_id=event.correlation_id or str(event.id),
            causation_id=str(event.id),
            actor=actor or event.actor,
            traceparent=traceparent or event.traceparent,
        )


def utcnow() -> datetime:
    return datetime.now(UTC)


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventType(KeyError):
    pass


class InvalidEventData(ValueError):
    """A command decided an event whose data does not fit its type's model: a programming error
    (the decider and the model disagree), refused before anything is recorded."""

    def __init__(self, type_: str, version: int, errors: str) -> None:
        super().__init__(f"{type_} v{version}: the data does not fit its model: {errors}")
        self.type = type_
        self.version = version


class EventRegistry:
    """Known event types, their current schema version and the upcasters from older ones.

    Registering is explicit so a typo in a type string fails at import time, not in a
    consumer three services away. A type registered with a `model` (a pydantic model of its
    data, services/<service>/event_models.py) is gated: every event recorded through the registry
    (`version_for`, `new`; the unit of work, inline reactions and bulk imports call it) must fit
    the model of its current version, or InvalidEventData is raised. The data stays the plain
    dict the decider built: the model checks it and is thrown away, nothing is re-serialised.
    """

    def __init__(self) -> None:
        self._current: dict[str, int] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._models: dict[tuple[str, int], type[BaseModel]] = {}
        self._validators: dict[str, Callable[[Any], Any]] = {}

    def register(self, type_: str, version: int = 1, model: type[BaseModel] | None = None) -> None:
        if self._current.get(type_, 0) > version:
            raise ValueError(f"{type_} already registered at a newer version")
        self._current[type_] = version
        if model is not None:
            self._models[(type_, version)] = model
            self._validators[type_] = model.__pydantic_validator__.validate_python
        else:
            self._validators.pop(type_, None)

    def model(self, type_: str, version: int) -> type[BaseModel] | None:
        return self._models.get((type_, version))

    @property
    def models(self) -> dict[tuple[str, int], type[BaseModel]]:
        """Every (type, version) registered with a model, older versions included."""
        return dict(sorted(self._models.items()))

    def upcaster(self, type_: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator: turns `data` of `from_version` into `from_version + 1`."""

        def deco(fn: Upcaster) -> Upcaster:
            self._upcasters[(type_, from_version)] = fn
            return fn

        return deco

    def current_version(self, type_: str) -> int:
        try:
            return self._current[type_]
        except KeyError:
            raise UnknownEventType(type_) from None

    def version_for(self, type_: str, data: dict[str, Any]) -> int:
        """The current version of `type_`, once `data` is checked against its model (the gate
        every recorded event passes): InvalidEventData if it does not fit."""
        version = self.current_version(type_)
        if (validate := self._validators.get(type_)) is not None:
            try:
                validate(data)
            except ValidationError as exc:
                raise InvalidEventData(type_, version, _errors(exc)) from None
        return version

    def knows(self, type_: str) -> bool:
        return type_ in self._current

    @property
    def types(self) -> list[str]:
        return sorted(self._current)

    def upcast(self, env: Envelope) -> Envelope:
        data, version = self.upcast_data(env.type, env.schema_version, env.data)
        return env if version == env.schema_version else replace(env, data=data, schema_version=version)

    def upcast_data(self, type_: str, schema_version: int, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """`data` of `schema_version` brought to the type's current version, with that version."""
        target = self._current.get(type_)
        if target is None or schema_version >= target:
            return data, schema_version
        version = schema_version
        while version < target:
            step = self._upcasters.get((type_, version))
            if step is None:
                raise LookupError(f"no upcaster for {type_} v{version} → v{version + 1}")
            data, version = step(data), version + 1
        return data, version

    def new(self, type_: str, data: dict[str, Any]) -> NewEvent:
        return NewEvent(type=type_, data=data, schema_version=self.version_for(type_, data))


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(data)'}: {e['msg']}" for e in exc.errors()[:5])
