"""Writes docs/events/<service>/<event>.v<N>.json and docs/asyncapi.json from the event models
(shared/eventschemas.py): `make event-schemas`, or `python -m scripts.event_schemas [--check]`.
tests/test_event_schemas.py fails when the committed files and the models disagree."""

from __future__ import annotations

import sys
from pathlib import Path

from services.credits.events import registry as credits
from services.enrollment.events import registry as enrollment
from services.funding.events import registry as funding
from shared.envelope import EventRegistry
from shared.eventschemas import ROOT, SCHEMA_DIR, generated

# Reporting records nothing (import contracts): it publishes no events.
REGISTRIES: dict[str, EventRegistry] = {"enrollment": enrollment, "credits": credits, "funding": funding}


def files() -> dict[Path, str]:
    return generated(REGISTRIES)


def stale() -> list[str]:
    """Files that differ from what the models generate, or that no model generates any more."""
    want = files()
    out = [str(p.relative_to(ROOT)) for p, text in want.items()
           if not p.exists() or p.read_text(encoding="utf-8") != text]
    out += [str(p.relative_to(ROOT)) for p in SCHEMA_DIR.rglob("*.json") if p not in want]
    return sorted(out)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        if bad := stale():
            print("out of date (run `make event-schemas`):\n  " + "\n  ".join(bad))
            return 1
        return 0
    want = files()
    for p in SCHEMA_DIR.rglob("*.json"):
        if p not in want:
            p.unlink()
    for p, text in want.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
            print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
