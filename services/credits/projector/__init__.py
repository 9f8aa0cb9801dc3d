"""Inline projector of the credits service's own events: query tables kept in the same
transaction as the append (the owner reads its own writes).

`record` is the one way credits events enter the store: project first, append last, so the
commit-ordering lock (shared/eventstore.py) is held for the shortest time. Handlers are
idempotent — inserts keyed by id, updates guarded by version or state — so a rebuild may run
while commands keep recording (projector/rebuild.py).
"""

from __future__ import annotations

from services.credits.events import registry
from shared.inline import Handler, InlineProjector

inline = InlineProjector(registry)
HANDLERS = inline.handlers
handles, project, record = inline.handles, inline.project, inline.record

__all__ = ["HANDLERS", "Handler", "handles", "load_handlers", "project", "record"]


def load_handlers() -> None:
    from services.credits.projector import ledger  # noqa: F401  (registers its @handles)
