"""``GET /v1/jobs/{job_id}``: a durable job of the caller's tenant (queued work answered 202).

A job shows its ``status`` (queued, running, succeeded, failed), ``progress``, attempts and,
once it succeeded, its ``result`` (for a securitization pricing: the pricing's answer).
Another tenant's job is a 404, as if it did not exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import Principal, RowId, SessionDep, require_roles
from api.errors import NotFoundError
from api.routers._body import ERROR_RESPONSES
from api.schemas.admin import UtcDatetime
from models.jobs import Job

router = APIRouter()

Reader = Annotated[
    Principal, Depends(require_roles("bank", "fund_manager", "risk", "registrar", "admin"))
]


class JobOut(BaseModel):
    """A durable job as its tenant sees it."""

    id: int
    kind: str
    ref: str | None = Field(
        None, description="The object the job produces (e.g. a pricing run's id)."
    )
    status: str = Field(description="`queued`, `running`, `succeeded` or `failed`.")
    progress: float
    attempts: int
    max_attempts: int
    error: str | None = None
    result: dict[str, Any] | None = Field(None, description="The job's answer once it succeeded.")
    created_at: UtcDatetime
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    summary="A durable job of your tenant",
    responses=ERROR_RESPONSES,
)
def get_job(job_id: RowId, principal: Reader, session: SessionDep) -> JobOut:
    """Status, progress and (when succeeded) the result of a job queued by your tenant."""
    job = session.get(Job, job_id)
    if job is None or job.tenant != principal.tenant:
        raise NotFoundError(f"No job {job_id}.")
    result = json.loads(job.result) if job.result and job.status == "succeeded" else None
    return JobOut(
        id=int(job_id),
        kind=job.kind,
        ref=job.ref,
        status=job.status,
        progress=job.progress,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        error=job.error,
        result=result if isinstance(result, dict) else None,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
