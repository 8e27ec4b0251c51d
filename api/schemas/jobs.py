"""Answers about durable jobs: the 202 of queued work and ``GET /v1/jobs/{id}``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.schemas.admin import UtcDatetime
from models.jobs import JobStatus


class JobAccepted(BaseModel):
    """202 answer of work queued as a durable job; poll ``GET /v1/jobs/{id}``."""

    id: int = Field(description="The job's id.")
    kind: str
    status: JobStatus
    progress: float
    ref: str | None = Field(
        None, description="The object the job works for (e.g. the securitization's id)."
    )


class JobOut(BaseModel):
    """A durable job as its tenant sees it."""

    id: int
    kind: str
    ref: str | None = Field(
        None, description="The object the job works for (e.g. the securitization's id)."
    )
    status: JobStatus
    progress: float
    attempts: int
    max_attempts: int
    error: str | None = None
    result: dict[str, Any] | None = Field(None, description="The job's answer once it succeeded.")
    created_at: UtcDatetime
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
