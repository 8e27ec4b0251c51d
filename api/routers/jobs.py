"""``GET /v1/jobs/{job_id}``: a durable job of the caller's tenant (queued work answered 202).

A job shows its ``status`` (queued, running, succeeded, failed), ``progress``, attempts and,
once it succeeded, its ``result`` (for a securitization pricing: the pricing's answer).
Another tenant's job is a 404, as if it did not exist.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.deps import Principal, RowId, SessionDep, require_roles
from api.errors import NotFoundError
from api.job_queue import get_jobs
from api.routers._body import ERROR_RESPONSES
from api.schemas.jobs import JobAccepted, JobOut
from models.jobs import Job

router = APIRouter()

Reader = Annotated[
    Principal, Depends(require_roles("bank", "fund_manager", "risk", "registrar", "admin"))
]


def accepted(app: Any, job: Job) -> JSONResponse:
    """The 202 of work queued as ``job``: `JobAccepted` with ``Location: /v1/jobs/{id}``.
    With ``JOBS_IN_PROCESS`` (development, tests) the app also runs the job itself."""
    get_jobs(app).kick()
    body = JobAccepted(
        id=int(job.id),  # type: ignore[arg-type]
        kind=job.kind,
        status=job.status,
        progress=job.progress,
        ref=job.ref,
    )
    return JSONResponse(
        status_code=202,
        headers={"Location": f"/v1/jobs/{job.id}"},
        content=body.model_dump(mode="json"),
    )


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
