"""Typed event data, the JSON Schemas and the AsyncAPI document generated from it (issue 16).

Each service models the data of every event type and version it records (services/<service>/
event_models.py, subclasses of EventData) and registers the models with its registry. From them:

- docs/events/<service>/<event>.v<N>.json: one JSON Schema (draft 2020-12) per type and version,
  served by the owning service at `schema_path(...)` (GET /v1/events/schemas/<service>/<file>) and
  named by every envelope's CloudEvents `dataschema` attribute, that path on the owner's public URL;
- docs/asyncapi.json: an AsyncAPI 3.0 document of every NATS subject the services publish on, each
  message the structured-mode CloudEvent (docs/events.md) with its data's schema.

`python -m scripts.event_schemas` (make event-schemas) writes both; tests/test_event_schemas.py fails
when they and the models disagree. The kernel imports no service: the generator passes the
registries in. Consumers in other services read the committed files (shared/contracts.py), never
the producer's code.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from .envelope import DATA_CONTENT_TYPE, EventRegistry, data_schema_path, wire_type

ROOT = Path(__file__).resolve().parent.parent
# The committed files: the source tree's docs/, or where the image puts them (deploy/Dockerfile).
DOCS_DIR = Path(os.environ.get("TT_DOCS_DIR") or ROOT / "docs")
SCHEMA_DIR = DOCS_DIR / "events"
ASYNCAPI_FILE = DOCS_DIR / "asyncapi.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


class EventData(BaseModel):
    """The data of one event type at one version. Strict and closed: a field of the wrong JSON
    type, one missing or one not modelled is refused (the decider and the model must agree)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _calendar_day(value: str) -> str:
    date.fromisoformat(value)  # the pattern lets 2023-02-30 through; the calendar does not
    return value


# A calendar day in event data: ISO 8601's YYYY-MM-DD, as text (the decider's dict stays as it is).
# Published as `"format": "date"` with its pattern, so a consumer's contract check refuses any
# other spelling by the schema alone, not only a producer's gate.
Day = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), AfterValidator(_calendar_day),
                Field(json_schema_extra={"format": "date"})]


def snake(type_: str) -> str:
    return _SNAKE.sub("_", type_).lower()


def schema_file(type_: str, version: int) -> str:
    """TeacherNominated, 1 → teacher_nominated.v1.json"""
    return f"{snake(type_)}.v{version}.json"


def schema_path(service: str, type_: str, version: int) -> str:
    """The path the owning service serves the schema at: the schema's `$id` (resolved against where
    it was fetched from) and the path of every envelope's `dataschema` URL."""
    return data_schema_path("/" + service, type_, version)


def dataschema_pattern(service: str, type_: str, version: int) -> str:
    """What an envelope's `dataschema` matches in the AsyncAPI document: the schema's path on any
    absolute http(s) origin, as the deployment configures its public URLs (a path prefix kept)."""
    return r"^https?://[^/?#]+(/[^?#]*)?" + re.escape(schema_path(service, type_, version)) + "$"


def data_schema(service: str, type_: str, version: int, model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_path(service, type_, version),
            "title": f"{type_} v{version}", "x-event-type": wire_type("/" + service, type_, version),
            **{k: v for k, v in schema.items() if k != "title"}}


def schemas(service: str, registry: EventRegistry) -> dict[str, dict[str, Any]]:
    """file name → JSON Schema, for every type and version of `registry` that has a model."""
    return {schema_file(t, v): data_schema(service, t, v, m) for (t, v), m in registry.models.items()}


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def _envelope_schema() -> dict[str, Any]:
    """The structured-mode CloudEvent our services publish (docs/events.md), `data` left to each message."""
    string = {"type": "string"}
    return {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"],
        "properties": {
            "specversion": {"const": "1.0"}, "id": string, "source": string, "type": string,
            "subject": string, "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": DATA_CONTENT_TYPE},
            "dataschema": {"type": "string", "format": "uri"},
            "schemaversion": {"type": "integer"}, "streamversion": {"type": "integer"},
            "position": {"type": "integer"}, "correlationid": string, "causationid": string,
            "actorid": string, "actorrole": string, "actororg": string, "traceparent": string,
        },
    }


def asyncapi(registries: Mapping[str, EventRegistry], version: str = "1.0.0") -> dict[str, Any]:
    """AsyncAPI 3.0 for every (service, event type) at its current version: channel
    `<service>.{category}.<EventType>` (shared/bus.py BusNames.subject; tests prefix a namespace),
    one `send` operation per channel, the message a CloudEvent whose `data` is the type's schema."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas_: dict[str, Any] = {"CloudEvent": _envelope_schema()}
    for service, registry in registries.items():
        for type_ in registry.types:
            current = registry.current_version(type_)
            model = registry.model(type_, current)
            if model is None:
                continue
            key = f"{service}.{type_}"
            data = data_schema(service, type_, current, model)
            defs = data.pop("$defs", {})
            for name, sub in defs.items():
                schemas_[f"{service}.{type_}.{name}"] = _rebase(sub, f"{service}.{type_}.")
            data = _rebase(data, f"{service}.{type_}.")
            data.pop("$schema", None)
            data.pop("$id", None)
            wire = wire_type("/" + service, type_, current)
            schemas_[key] = data
            messages[key] = {
                "name": type_, "title": f"{type_} v{current}",
                "summary": f"{type_} of {service}: the CloudEvent on the wire, type {wire}",
                "contentType": "application/cloudevents+json",
                "payload": {"allOf": [
                    {"$ref": "#/components/schemas/CloudEvent"},
                    {"type": "object", "properties": {
                        "type": {"const": wire}, "source": {"const": "/" + service},
                        "dataschema": {"type": "string", "pattern": dataschema_pattern(service, type_, current)},
                        "data": {"$ref": f"#/components/schemas/{key}"}}},
                ]},
            }
            channels[key] = {
                "address": f"{service}.{{category}}.{type_}",
                "title": f"{service} {type_}",
                "description": (f"{type_} events of {service}, on JetStream stream {service.upper()}; `category` "
                                "is the aggregate kind, the prefix of the event's stream id (e.g. `project`)."),
                "parameters": {"category": {"description": "the aggregate kind (the stream id's prefix)"}},
                "messages": {type_: {"$ref": f"#/components/messages/{key}"}},
            }
            operations[f"publish.{key}"] = {
                "action": "send", "title": f"{service} publishes {type_}",
                "channel": {"$ref": f"#/channels/{_pointer(key)}"},
                "messages": [{"$ref": f"#/channels/{_pointer(key)}/messages/{type_}"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Teacher training events", "version": version,
                 "description": "Every event the services publish to NATS JetStream, in CloudEvents structured mode "
                                "(docs/events.md). Generated from services/*/event_models.py by `make event-schemas`."},
        "defaultContentType": "application/cloudevents+json",
        "servers": {"nats": {"host": "localhost:4222", "protocol": "nats",
                             "description": "NATS JetStream (deploy/k8s: nats:4222)"}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas_, "messages": messages},
    }


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _rebase(node: Any, prefix: str) -> Any:
    """pydantic's `#/$defs/X` references as `#/components/schemas/<prefix>X`."""
    if isinstance(node, dict):
        return {k: (f"#/components/schemas/{prefix}{v.removeprefix('#/$defs/')}"
                    if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/") else _rebase(v, prefix))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(x, prefix) for x in node]
    return node


def generated(registries: Mapping[str, EventRegistry]) -> dict[Path, str]:
    """Every file `make event-schemas` writes: path → text."""
    out: dict[Path, str] = {}
    for service, registry in registries.items():
        for name, schema in schemas(service, registry).items():
            out[SCHEMA_DIR / service / name] = dumps(schema)
    out[ASYNCAPI_FILE] = dumps(asyncapi(registries))
    return out
