"""The projects read model declared once, with SQLModel: `ProjectBase` is what a project is drafted
with and shown with, `Project` the table those fields live in (created by migrations 0002 and 0004;
tests/enrollment/test_read_model_declarations.py holds the declaration and the table equal), and
`ProjectPublic` what GET /v1/projects answers — one set of field rules for input, storage and output.

The read side queries the table with asyncpg, not through SQLModel's session: on one row by id the
ORM session gave 0.28x the throughput at 4.4x the CPU of asyncpg (`python -m bench.read_path`,
docs/architecture.md), far past the 10 % a read path may give up.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

import sqlalchemy as sa
from pydantic import Field as Constraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.inputs import IsoDate
from shared.inputs import Text as OneLine
from shared.yearnames import ProjectYearNamed

Num = Annotated[float, Constraint(allow_inf_nan=False)]
Text = Annotated[OneLine, Constraint(min_length=1, max_length=200)]
Level = Literal["national", "provincial", "municipal", "county", "school"]


class ModuleIn(SQLModel):
    name: Text
    hours: Num
    practical: bool = False
    kind: OneLine = Field("general", min_length=1, max_length=32, description='"ethics" marks the 师德 module')


class ProjectBase(SQLModel):
    code: OneLine = Field(min_length=1, max_length=64)
    name: Text
    level: Level = Field(sa_type=sa.Text)
    category: Text
    year: int = Field(ge=2000, le=2100, description="项目年度: the calendar year the project runs in "
                      "(a cross-year project: its first year)")
    host_id: uuid.UUID | None = None
    organizer_code: OneLine = Field(min_length=1, max_length=32)
    hours: Num = Field(sa_type=sa.Numeric)
    hour_category: OneLine = Field(min_length=1, max_length=32)
    starts_on: IsoDate
    ends_on: IsoDate
    cross_year: bool = False
    first_year_ends_on: IsoDate | None = None
    practical_ratio: Num = Field(sa_type=sa.Numeric)
    modules: list[ModuleIn] = Field(default_factory=list, max_length=100, sa_type=JSONB)


class Project(ProjectBase, table=True):
    """The `projects` table (projector/projects.py writes it from the project stream)."""

    __tablename__ = "projects"
    id: uuid.UUID = Field(primary_key=True)
    status: str  # drafted, plan_submitted, approved, open, started, closed, cancelled
    plan_submitted_on: date | None = None
    approved_on: date | None = None
    opened_on: date | None = None
    started_on: date | None = None
    closed_on: date | None = None
    cancelled_on: date | None = None
    cancel_reason: str | None = None
    version: int  # the project stream's version: the ETag


class ProjectPublic(ProjectBase, ProjectYearNamed):
    id: uuid.UUID
    status: str  # drafted, plan_submitted, approved, open, started, closed, cancelled
    version: int
