"""Background jobs for long runs (stress runs).

A `JobQueue` runs submitted callables on a small pool of daemon threads, so an HTTP
request returns 202 at once and the client polls the run's status. The job functions
themselves (e.g. `api.services.risk.execute_run`) own their state in the database: they
mark runs running / succeeded / failed and never raise. When a Dask scheduler is
configured (``DASK_SCHEDULER``), the job's chunks run on the Dask cluster; the thread only
coordinates.

`get_jobs(app)` returns the application's queue, creating it on first use.

Liveness. A run queued or running when its process stops would otherwise keep that
status forever. Every run records the process that owns it (`worker_identity`: a token
unique to the process start, the pid and the host) and the process keeps the ids of the
runs whose jobs it holds (`claim` / `release`). `job_alive` tells from that whether a run's
job can still be alive; `recover_interrupted_runs(app)` (called once by
`api.app.create_app`) and every read of a run (`api.services.risk.get_run`) mark runs whose
job is dead ``failed`` with `INTERRUPTED_ERROR`, and no result of theirs stays visible.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

logger = logging.getLogger("datafin.jobs")

#: Concurrent jobs per process: two, one per core of a small server; more runs queue.
DEFAULT_WORKERS = 2


class JobQueue:
    """Runs jobs on background threads and keeps their futures (for tests and shutdown)."""

    def __init__(self, workers: int = DEFAULT_WORKERS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="datafin-job")
        self._futures: list[Future[Any]] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue ``fn(*args, **kwargs)``; exceptions are logged (jobs record their own state)."""
        def guarded() -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                logger.exception("background job %s failed", getattr(fn, "__name__", fn))
                raise

        future = self._pool.submit(guarded)
        with self._lock:
            self._futures = [f for f in self._futures if not f.done()] + [future]
        return future

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every submitted job; True when all finished within ``timeout`` seconds."""
        with self._lock:
            pending = list(self._futures)
        done, not_done = wait(pending, timeout=timeout)
        return not not_done

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


_LOCK = threading.Lock()


def get_jobs(app: Any) -> JobQueue:
    """The application's job queue (``app.state.jobs``), created on first use."""
    with _LOCK:
        queue = getattr(app.state, "jobs", None)
        if queue is None:
            queue = JobQueue()
            app.state.jobs = queue
        return queue


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


def claim(run_id: str) -> None:
    """Mark ``run_id`` as owned by a live job of this process (queued or running here)."""
    with _ACTIVE_LOCK:
        _ACTIVE.add(run_id)


def release(run_id: str) -> None:
    """The job of ``run_id`` has ended in this process (whatever its outcome)."""
    with _ACTIVE_LOCK:
        _ACTIVE.discard(run_id)


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


def job_alive(run_id: str, worker: Mapping[str, Any] | None) -> bool:
    """Whether the job of a queued or running run can still be alive.

    * owned by this process (same token): alive while it is claimed here;
    * owned by another process on this host: alive while that pid exists (and is not
      this process, which would mean the pid was reused after the owner died);
    * owned by a process on another host: assumed alive (it cannot be checked from here);
    * no owner recorded (a run queued before owners were recorded): not alive.
    """
    if not isinstance(worker, Mapping) or not worker.get("token"):
        return False
    if worker["token"] == PROCESS_TOKEN:
        with _ACTIVE_LOCK:
            return run_id in _ACTIVE
    if worker.get("host") != _HOST:
        return True
    try:
        pid = int(worker.get("pid"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return pid != os.getpid() and _pid_alive(pid)


def recover_interrupted_runs(app: Any) -> list[str]:
    """Startup hook: fail every queued or running run whose job is no longer alive.

    Called by `api.app.create_app`; the runs are marked ``failed`` with
    `INTERRUPTED_ERROR` and any result rows they have are deleted (see
    `api.services.risk.fail_interrupted_runs`). Returns the ids failed.
    """
    from api.services import risk as risk_service

    try:
        return risk_service.fail_interrupted_runs(app.state.session_factory)
    except Exception:  # never block startup: reads of a run still catch it (lazily)
        logger.exception("could not check for interrupted runs at startup")
        return []


# ----------------------------------------------------------------------------- metrics
#: Kinds of long work the service runs as jobs.
KINDS: tuple[str, ...] = ("stress_run",)


def queue_depth(session: Any) -> dict[tuple[str, str], int]:
    """``{(kind, status): count}`` of the open (queued or running) jobs."""
    import sqlalchemy as sa

    from models.risk import StressRun

    rows = session.execute(sa.select(StressRun.status, sa.func.count()).where(
        StressRun.status.in_(("queued", "running"))).group_by(StressRun.status)).all()
    return {("stress_run", status): int(n) for status, n in rows}
