"""Consumer contracts (issue 16): what a projection reads of the events it applies, checked against
the producers' published JSON Schemas (docs/events/<service>/<event>.v<N>.json, generated from the
producers' models by `make event-schemas`), never against the producers' code, which no other
service may import.

A projection declares `reads = {"EnrollmentCompleted": frozenset({"teacher_id", "hours", ...})}`
(dotted paths reach into objects: "source.project_year"). Then:

- before it applies an event it wants, the event's data is validated against the schema of its
  type and version as its producer published them, as a tolerant reader: the fields it reads must
  have the published types (the others, and fields added later, are not its business); an unknown
  type or version, or data that does not fit, is dead-lettered at once with the reason
  (shared/projection.py), never half-applied;
- tests/test_consumer_contracts.py checks that every declared field is in the producer's newest
  schema for that type, so a producer change that drops or renames a field a consumer reads
  fails CI rather than a consumer three services away.

Validation is jsonschema_rs (compiled once per schema, well under a microsecond per small payload).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from .envelope import Envelope
from .eventschemas import SCHEMA_DIR

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")

Reads = Mapping[str, frozenset[str]]


def schema_path(service: str, type_: str, version: int) -> Path:
    return SCHEMA_DIR / service / f"{_SNAKE.sub('_', type_).lower()}.v{version}.json"


@cache
def published(service: str, type_: str, version: int) -> dict[str, Any] | None:
    """The committed JSON Schema of `type_` v`version` of `service`, or None if none is published."""
    path = schema_path(service, type_, version)
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def versions(service: str, type_: str) -> list[int]:
    """The versions of `type_` that `service` publishes a schema for, oldest first."""
    stem = _SNAKE.sub("_", type_).lower()
    found = [p.name[len(stem) + 2:-len(".json")] for p in (SCHEMA_DIR / service).glob(f"{stem}.v*.json")]
    return sorted(int(v) for v in found if v.isdigit())


@cache
def _validator(service: str, type_: str, version: int, fields: frozenset[str]) -> Any:
    """A tolerant reader's validator: the producer's published schema of each top-level field the
    consumer reads (dotted reads check their whole top-level field), applied when the field is
    there. Fields it does not read, and fields the producer added later, are not its business; a
    field it reads that is absent is left to the handler (`d.get` or a KeyError, retried and then
    dead-lettered like any handler failure). None when no schema is published for the version."""
    schema = published(service, type_, version)
    if schema is None:
        return None
    props = schema.get("properties", {})
    tops = sorted({f.split(".", 1)[0] for f in fields})
    reader = {"type": "object", "properties": {f: props[f] for f in tops if f in props},
              "$defs": schema.get("$defs", {})}
    return jsonschema_rs.validator_for(reader)


def refusal(event: Envelope, reads: Reads) -> str | None:
    """Why `event`'s data may not be applied by a consumer reading `reads`, or None when it fits
    what its producer published: a schema for its type and version, and the fields read of the
    types published."""
    service = event.source.strip("/")
    validator = _validator(service, event.type, event.schema_version, reads.get(event.type, frozenset()))
    if validator is None:
        return f"no published schema for {service} {event.type} v{event.schema_version}"
    if validator.is_valid(event.data):
        return None
    errors = "; ".join(f"{'/'.join(str(p) for p in e.instance_path) or '(data)'}: {e.message}"
                       for _, e in zip(range(3), validator.iter_errors(event.data), strict=False))
    return f"{service} {event.type} v{event.schema_version} does not fit its published schema: {errors}"


def as_read(event: Envelope, reads: Reads) -> Envelope:
    """`event` as a consumer that `refusal` admitted reads it: each field it reads that the producer
    published as an integer holds an int. JSON Schema's integer admits any number without a
    fraction (2023.0), which Python keeps as a float, and a float then fails where an int is
    needed: an int column, a strict model of an event recorded in reaction (credits' award copies
    the completion's year). The event itself when nothing changes (almost always: no copy)."""
    fields = reads.get(event.type)
    if not fields:
        return event
    paths = _integer_paths(event.source, event.type, event.schema_version, fields)
    if not paths:
        return event
    data = event.data
    for path in paths:
        if len(path) == 1 and type(data.get(path[0])) is not float:  # the usual case, at a dict look-up's cost
            continue
        data = _whole(data, path)
    return event if data is event.data else replace(event, data=data)


def _whole(node: Any, path: tuple[str, ...]) -> Any:
    """`node` with the integral float at `path` (through objects, and each item of an array) made
    an int; the same object when there is none, else a copy of what leads to it."""
    if isinstance(node, list):
        items = [_whole(item, path) for item in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    if not path or not isinstance(node, dict) or path[0] not in node:
        return node
    value = node[path[0]]
    if len(path) == 1:
        if isinstance(value, float) and value.is_integer():
            return {**node, path[0]: int(value)}
        return node
    inner = _whole(value, path[1:])
    return node if inner is value else {**node, path[0]: inner}


@cache
def _integer_paths(source: str, type_: str, version: int, fields: frozenset[str]) -> tuple[tuple[str, ...], ...]:
    """The fields read (dotted paths) that the published schema types as integers (or integer or null)."""
    schema = published(source.strip("/"), type_, version)
    if schema is None:
        return ()
    integers = _integer_fields(schema)
    return tuple(tuple(f.split(".")) for f in sorted(fields) if f in integers)


def _integer_fields(schema: Mapping[str, Any]) -> set[str]:
    """Every field path (as `fields_of` names them) whose published type is integer, alone or with null."""
    defs: Mapping[str, Any] = schema.get("$defs", {})

    def kinds(node: Mapping[str, Any]) -> set[Any]:
        if "$ref" in node:
            node = defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
        return {node.get("type")} | {k for sub in node.get("anyOf", ()) for k in kinds(sub)}

    return {path for path, node in _fields(schema) if "integer" in (k := kinds(node)) and "number" not in k}


def fields_of(schema: Mapping[str, Any]) -> set[str]:
    """Every field path a JSON Schema (as pydantic writes them) names: "source", "source.project_year",
    "rules.rule" (an array's items are reached through the array's name)."""
    return {path for path, _ in _fields(schema)}


def _fields(schema: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Each field path the schema names with the schema node that types it there (a field named in
    several branches comes once per branch)."""
    defs: Mapping[str, Any] = schema.get("$defs", {})
    out: list[tuple[str, Mapping[str, Any]]] = []

    def walk(node: Mapping[str, Any], prefix: str, depth: int) -> None:
        if depth > 6:
            return
        if "$ref" in node:
            target = defs.get(str(node["$ref"]).rsplit("/", 1)[-1])
            if target is not None:
                walk(target, prefix, depth + 1)
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, ()):
                walk(sub, prefix, depth + 1)
        if isinstance(node.get("items"), Mapping):
            walk(node["items"], prefix, depth + 1)
        for name, sub in (node.get("properties") or {}).items():
            path = f"{prefix}{name}"
            out.append((path, sub))
            walk(sub, path + ".", depth + 1)

    walk(schema, "", 0)
    return out


def unmet(service: str, reads: Reads) -> list[str]:
    """The declared reads the producer's newest published schema does not offer."""
    out: list[str] = []
    for type_, fields in sorted(reads.items()):
        found = versions(service, type_)
        schema = published(service, type_, found[-1]) if found else None
        if schema is None:
            out.append(f"{service} publishes no schema for {type_}")
            continue
        have = fields_of(schema)
        out += [f"{service} {type_} v{found[-1]} has no field {f!r}" for f in sorted(fields) if f not in have]
    return out
