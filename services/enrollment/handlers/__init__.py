"""Command handlers, one module per command. A handler takes the locks its rules need (in the
order guards.py gives), loads its facts, calls the pure decider in domain/, queues the events
with `uow.record` and answers a Reply; the kernel (shared/unit_of_work.py) then writes the
idempotency record, runs the guards and read models over the events and appends them, all in
the command's one transaction. Routes (api/) reach a handler through `cmd.run`.
"""

from __future__ import annotations

from services.enrollment.events import registry
from shared.eventstore import EventStore

# Aggregates are loaded from the store; appends go through the unit of work only.
STORE = EventStore("enrollment", registry)
