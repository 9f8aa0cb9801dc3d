"""docs/events.md lists every event type each service publishes, with the reverse-DNS type it
carries on the wire (shared/envelope.py wire_type): a type registered and not listed, or listed
and gone, fails here with the table to paste."""

from __future__ import annotations

import importlib
from pathlib import Path

from shared.envelope import wire_type

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("enrollment", "credits", "funding")  # reporting records nothing (import contracts)


def expected_table() -> str:
    rows = ["| service | event | version | type on the wire |", "| --- | --- | --- | --- |"]
    for service in SERVICES:
        registry = importlib.import_module(f"services.{service}.events").registry
        for type_ in registry.types:
            version = registry.current_version(type_)
            rows.append(f"| {service} | {type_} | {version} | `{wire_type('/' + service, type_, version)}` |")
    return "\n".join(rows)


def test_docs_events_lists_every_registered_type() -> None:
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    listed = text.split("<!-- types -->", 1)[1].split("<!-- /types -->", 1)[0].strip()
    want = expected_table()
    assert listed == want, f"docs/events.md is out of date; the table between the markers is:\n{want}"
