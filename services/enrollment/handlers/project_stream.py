"""What every command on a project starts and ends with: load the project's stream, check who
may act, honour If-Match; then queue the decided events and answer with the new version (the
project's ETag)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from services.enrollment.domain.project import DraftProject, Events, ProjectState, evolve
from shared.aggregate import load_state
from shared.refusal import Refused
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

    @property
    def plan(self) -> DraftProject:
        assert self.state.plan is not None  # load() answered 404 for a project never drafted
        return self.state.plan


async def load(uow: UnitOfWork, project_id: uuid.UUID, act: str) -> Loaded:
    """`act`: "organize", "approve" or "report" (access.project_act)."""
    stream = f"project-{project_id}"
    state, version = await load_state(uow.conn, STORE, stream, evolve, ProjectState())
    if state.plan is None:
        raise Refused("project_not_found", f"no project {project_id}", 404)
    project_act(uow.principal, state.plan, act)
    return Loaded(project_id, state, uow.expect(stream, version))


def record(uow: UnitOfWork, loaded: Loaded, events: Events, status: int, body: dict[str, Any]) -> Reply:
    uow.record(loaded.stream, loaded.version, events)
    version = loaded.version + len(events)
    return Reply(status, {**body, "version": version}, {"ETag": f'"{version}"'})
