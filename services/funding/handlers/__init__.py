"""One module per funding command: take the locks the rule needs → load the facts (one query)
→ the pure decision in domain/ → `uow.record(...)` → a Reply. The kernel's unit of work
(shared/unit_of_work.py) then runs the guard and the read models over the events and appends.
What every handler shares — the lock order and the fact parsers — is in facts.py. One reaction
sits beside them: assess.py, run by the assessor projection after a command committed."""

from services.funding.events import registry
from shared.eventstore import EventStore

# The funding store, for loading an aggregate's own stream (the kernel appends through app.state.store).
STORE = EventStore("funding", registry)
