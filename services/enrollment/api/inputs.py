"""Request-body conventions of the enrollment routes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.inputs import Note


class StrictIn(BaseModel):
    """Request bodies: unknown fields are a 422, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


Reason = Annotated[Note, Field(min_length=1, max_length=500)]
