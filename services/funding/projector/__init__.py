"""Inline projector of the funding service's own events: keeps policies, accounts and the
ledger's entries in step with the event store, in the same transaction as the append.

`record` is the one way funding events enter the store: project first, append last. Projecting
first lets a handler refuse race-free (the balance guard is a guarded UPDATE holding the
account row's lock) before any event exists; appending last keeps the store's commit-ordering
lock (shared/eventstore.py) held for the shortest time. Rows are locked in one global order —
an allocating org before the org below it — so concurrent commands cannot deadlock.

The same handlers rebuild the tables from the event store: `ledger_projection()` is not run by
a live consumer (the inline projector already applied every event); it serves
`shared.projection.rebuild(pool, ledger_projection(), store_source(pool, store))`. Run it with the
service's commands stopped (a maintenance window): a command committing mid-rebuild would be
applied inline and then again by the replay. The enrollment-fed projections
(projector/directory.py) have no such limit: the kernel's checkpoints make them safe live.
"""

from __future__ import annotations

from services.funding.events import registry
from shared.inline import Handler, InlineProjector

inline = InlineProjector(registry)
HANDLERS = inline.handlers
handles, project, record = inline.handles, inline.project, inline.record
LEDGER_TABLES = ("funding_policies", "funding_accounts", "funding_entries")


def ledger_projection():
    """The ledger's read models, rebuilt from the funding service's own event store (run it
    with the service's commands stopped: a command committing mid-rebuild would be applied
    inline and again by the replay)."""
    return inline.as_projection("funding_ledger", "funding", LEDGER_TABLES)


__all__ = ["HANDLERS", "Handler", "LEDGER_TABLES", "ledger_projection", "handles", "load_handlers", "project",
           "record"]


def load_handlers() -> None:
    # Imported for their @handles side effect.
    from services.funding.projector import ledger  # noqa: F401
