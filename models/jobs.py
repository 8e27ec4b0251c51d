"""The job table: long work (stress runs, large pricing, bulk revaluation) queued by the
web process and run by ``datafin worker`` processes (see ``api/jobs.py`` and
``api/worker.py``).

A job is ``queued`` -> ``running`` -> ``succeeded`` | ``failed``. ``attempts`` counts the
times a worker claimed it; a job whose worker died (its heartbeat stopped) goes back to
``queued`` while ``attempts < max_attempts``, else it fails. ``result`` (JSON) is written
in the same transaction that marks the job succeeded, so a reader never sees a partial
result.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.db import utc_now


class JobStatus(StrEnum):
    """A durable job is queued, running (claimed by a worker), then succeeded or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(SQLModel, table=True):
    __tablename__ = "job"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True, max_length=40)
    ref: str | None = Field(
        default=None,
        index=True,
        max_length=80,
        description="The object the job works for (e.g. a stress run id).",
    )
    tenant: str | None = Field(default=None, index=True, max_length=80)
    payload: str = Field(default="{}", sa_type=sa.Text, description="JSON arguments.")
    status: str = Field(default=JobStatus.QUEUED.value, index=True, max_length=20)
    progress: float = Field(default=0.0)
    attempts: int = Field(default=0)
    max_attempts: int = Field(default=3)
    worker: str | None = Field(
        default=None, max_length=200, description="host:pid:token of the worker holding it."
    )
    heartbeat_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    error: str | None = Field(default=None, sa_type=sa.Text)
    result: str | None = Field(default=None, sa_type=sa.Text, description="JSON result.")
    created_at: datetime = Field(default_factory=utc_now, sa_type=sa.DateTime(timezone=True))
    started_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
