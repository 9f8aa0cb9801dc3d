"""What enrollment's commands answer, as typed models for /openapi.json (issue 16). A command's
reply is built by its handler (services/enrollment/handlers/) and sent as is, so these models
document it and the fuzz (tests/fuzz, response_schema_conformance) holds each 2xx to its model."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectDrafted(_Strict):
    id: uuid.UUID
    version: int = Field(description="the project stream's version (its ETag)")


class ProjectActed(_Strict):
    id: uuid.UUID
    action: Literal["submit-plan", "approve", "open", "start", "close", "cancel"]
    version: int = Field(description="the project stream's version (its ETag)")


class QuotaAllocated(_Strict):
    project_id: uuid.UUID
    region_code: str
    places: int
    version: int


class BulletinRecorded(_Strict):
    project_id: uuid.UUID
    issue_no: int
    version: int


class EnrollmentReply(_Strict):
    """Any command on one enrollment (nominate, replace, check in, attendance, assessment, …)."""

    enrollment_id: uuid.UUID
    status: Literal["nominated", "checked_in", "completed", "failed", "no_show", "withdrawn"]
    version: int = Field(description="the enrollment stream's version (its ETag)")


class LeaveReply(EnrollmentReply):
    session_date: date
    leave: Literal["requested", "approved", "rejected"]


class AttendanceImported(_Strict):
    recorded: int = Field(description="attendance rows recorded")
    enrollments: int = Field(description="enrollments they belong to")


class CheckInCode(_Strict):
    code: str = Field(description="shown as a QR code; valid until expires_at")
    project_id: uuid.UUID
    session_date: date
    expires_at: str = Field(description="ISO 8601 instant (UTC)")
