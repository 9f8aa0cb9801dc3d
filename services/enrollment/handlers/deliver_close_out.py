"""Record close-out materials delivered (总结材料, 004 §3.3, domain/close_out.py), by the project's
host or an admin over the organizer (the "report" act, as for bulletins). Each delivery is a new
record with a server-made id; the POST's Idempotency-Key makes a client's retry one delivery."""

from __future__ import annotations

import uuid
from datetime import date

from services.enrollment.domain.close_out import decide_deliver_close_out
from shared.unit_of_work import Reply, UnitOfWork

from .project_stream import load, record


async def handle(uow: UnitOfWork, project_id: uuid.UUID, kind: str, title: str, count: int, reference: str | None,
                 today: date) -> Reply:
    loaded = await load(uow, project_id, "report")
    material_id = str(uuid.uuid4())
    events = decide_deliver_close_out(loaded.state, material_id, kind, title, count, reference, today)
    return record(uow, loaded, events, 201, {"project_id": str(project_id), "material_id": material_id,
                                             "received_on": today.isoformat()})
