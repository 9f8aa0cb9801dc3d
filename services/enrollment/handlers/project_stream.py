"""What every command on a project starts and ends with: load the project's stream, check who
may act, honour If-Match; then queue the decided events and answer with the new version (the
project's ETag)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from services.enrollment.domain.project import Events, ProjectState, evolve, plan_of
from shared.aggregate import load_state
from shared.unit_of_work import Reply, UnitOfWork

from . import STORE
from .access import project_act


@dataclass(frozen=True)
class Loaded:
    project_id: uuid.UUID
    state: ProjectState
    version: int  # the version to append at

    @property
    def stream(self) -> str:
        return f"project-{self.project_id}"


async def load(uow: UnitOfWork, project_id: uuid.UUID, act: str) -> Loaded:
    """`act`: "organize", "approve" or "report" (access.project_act)."""
    stream = f"project-{project_id}"
    state, version = await load_state(uow.conn, STORE, stream, evolve, ProjectState())
    project_act(uow.principal, plan_of(state), act)
    return Loaded(project_id, state, uow.expect(stream, version))


def record(uow: UnitOfWork, loaded: Loaded, events: Events, status: int, body: dict[str, Any]) -> Reply:
    uow.record(loaded.stream, loaded.version, events)
    version = loaded.version + len(events)
    return Reply(status, {**body, "version": version}, {"ETag": f'"{version}"'})
