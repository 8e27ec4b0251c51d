"""Durable jobs for long work (stress runs, large securitization pricing), queued in the database and run by
``datafin worker`` processes (`api.worker`).

Queue. `enqueue(session, kind, payload)` adds a `models.jobs.Job` row to the caller's
transaction, so the job exists exactly when the object it works for does (a stress run
and its job commit together). The web process only enqueues and answers 202; a worker
claims the oldest queued job (PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``, so many
workers never take the same job; SQLite: one worker, the claim is a conditional update),
runs it, and writes the outcome. Jobs therefore survive a restart of the web process.
Workers that die are detected by their heartbeat (and at once, on the same host, by
their pid); their jobs go back to the queue up to ``max_attempts`` times, then fail.
See `api.worker` for the kinds and their guarantees (no partial results).

Why not a library: procrastinate (PostgreSQL only) or a Redis/RabbitMQ queue would add a
second system to run and would not work on the SQLite databases of the demo and the tests;
the job table is ~300 lines on the database the service already has.

The in-process side (`api.job_queue.get_jobs`: threads for ad-hoc work, and a ``wait()``
that drains the durable queue in the calling thread) sits above the worker; this module
imports no other part of the service, so services, the worker and the metrics all use it.

Liveness of runs queued before this queue (or by the CLI, which runs inline): every run
records the process that owns it (`worker_identity`) and `job_alive` tells whether that
job can still be alive; `api.job_queue.recover_interrupted_runs(app)` fails the dead ones
at start.
A run queued through the job table records ``{"queue": "db"}`` instead and is alive as
long as its job is: the worker's reaper fails it when the job gives up.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("datafin.jobs")

#: Times a job is claimed before it fails when its workers keep dying.
DEFAULT_MAX_ATTEMPTS = 3

#: Kinds of long work the service runs as durable jobs (handlers in `api.worker`).
KINDS: tuple[str, ...] = (
    "stress_run",
    "securitization_pricing",
    "sensitivities",
    "loan_revaluation",
)

#: ``record.worker`` of a stress run queued in the job table.
QUEUE_OWNER: dict[str, Any] = {"queue": "db"}


def enqueue(
    session: Any,
    kind: str,
    payload: Mapping[str, Any],
    *,
    ref: str | None = None,
    tenant: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> Any:
    """Add a queued job to ``session`` (the caller commits, with the object it serves)."""

    from models.jobs import Job

    if kind not in KINDS:
        raise ValueError(f"Unknown job kind {kind!r}; known kinds are {list(KINDS)}.")
    job = Job(
        kind=kind,
        ref=ref,
        tenant=tenant,
        payload=json.dumps(dict(payload), default=str),
        max_attempts=max_attempts,
    )
    session.add(job)
    return job


def queue_depth(session: Any) -> dict[tuple[str, str], int]:
    """``{(kind, status): count}`` of the open (queued or running) jobs."""
    import sqlalchemy as sa
    from sqlmodel import col

    from models.jobs import Job

    rows = session.execute(
        sa.select(col(Job.kind), col(Job.status), sa.func.count())
        .where(col(Job.status).in_(("queued", "running")))
        .group_by(Job.kind, Job.status)
    ).all()
    return {(kind, status): int(n) for kind, status, n in rows}


# ----------------------------------------------------------------------------- liveness
#: What a run's ``error`` says when its job died with the process that ran it.
INTERRUPTED_ERROR = "interrupted: the server stopped while the run was in progress"

#: This process's identity, recorded with every run it queues (``record.worker``): a random
#: token (unique per process start), the pid and the host name.
PROCESS_TOKEN = uuid.uuid4().hex
_HOST = socket.gethostname()
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


def worker_identity() -> dict[str, Any]:
    """``{"token", "pid", "host"}`` of this process, stored with each run it owns."""
    return {"token": PROCESS_TOKEN, "pid": os.getpid(), "host": _HOST}


def claim(run_id: int | str) -> None:
    """Mark ``run_id`` as owned by a live job of this process (queued or running here)."""
    with _ACTIVE_LOCK:
        _ACTIVE.add(str(run_id))


def release(run_id: int | str) -> None:
    """The job of ``run_id`` has ended in this process (whatever its outcome)."""
    with _ACTIVE_LOCK:
        _ACTIVE.discard(str(run_id))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return False
    return True


def job_alive(run_id: int | str, worker: Mapping[str, Any] | None) -> bool:
    """Whether the job of a queued or running run can still be alive.

    * owned by this process (same token): alive while it is claimed here;
    * owned by another process on this host: alive while that pid exists (and is not
      this process, which would mean the pid was reused after the owner died);
    * owned by a process on another host: assumed alive (it cannot be checked from here);
    * queued in the job table (``{"queue": "db"}``): alive (see `api.worker`);
    * no owner recorded (a run queued before owners were recorded): not alive.
    """
    if isinstance(worker, Mapping) and worker.get("queue") == QUEUE_OWNER["queue"]:
        return True  # the job table owns it: the worker's reaper fails it if it gives up
    if not isinstance(worker, Mapping) or not worker.get("token"):
        return False
    if worker["token"] == PROCESS_TOKEN:
        with _ACTIVE_LOCK:
            return str(run_id) in _ACTIVE
    if worker.get("host") != _HOST:
        return True
    try:
        pid = int(worker.get("pid"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return pid != os.getpid() and _pid_alive(pid)
