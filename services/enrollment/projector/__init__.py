"""Inline projector: keeps the enrollment service's query tables in step with its events, in
the same transaction as the append.

Handlers are keyed by event type and receive (conn, stream_id, version, data). Cross-stream
rules that must hold under concurrency (a region's quota, one 国培 per teacher per year) are
guarded updates and unique keys in these tables, so a handler may raise `Refused`.

`record` is the one way events enter the store: project first, append last. Appending last
keeps the commit-ordering lock (shared/eventstore.py) held for the shortest time, and a
refusal raised by a handler costs no event.
"""

from __future__ import annotations

from services.enrollment.events import registry
from shared.inline import Handler, InlineProjector

inline = InlineProjector(registry)
HANDLERS = inline.handlers
handles, project, record = inline.handles, inline.project, inline.record

__all__ = ["HANDLERS", "Handler", "handles", "load_handlers", "project", "record"]


def load_handlers() -> None:
    # Import for their @handles side effect; each module owns its tables.
    from services.enrollment.projector import enrollments, projects, roster  # noqa: F401
