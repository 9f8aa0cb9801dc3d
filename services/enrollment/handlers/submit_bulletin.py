"""Submit a work bulletin (简报, 004 §3.3), by the project's host or an admin over the organizer.
An issue number is submitted once: the project stream knows its issues, and two submissions
racing on it meet at the append (409)."""

from __future__ import annotations

import uuid
from datetime import date

from services.enrollment.domain.project import decide_submit_bulletin
from shared.unit_of_work import Reply, UnitOfWork

from .project_stream import load, record


async def handle(uow: UnitOfWork, project_id: uuid.UUID, issue_no: int, title: str, published_on: date,
                 today: date) -> Reply:
    loaded = await load(uow, project_id, "report")
    events = decide_submit_bulletin(loaded.state, issue_no, title, published_on, today)
    return record(uow, loaded, events, 201, {"project_id": str(project_id), "issue_no": issue_no})
