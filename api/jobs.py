"""Background jobs for long runs (stress runs).

A `JobQueue` runs submitted callables on a small pool of daemon threads, so an HTTP
request returns 202 at once and the client polls the run's status. The job functions
themselves (e.g. `api.services.risk.execute_run`) own their state in the database: they
mark runs running / succeeded / failed and never raise. When a Dask scheduler is
configured (``DASK_SCHEDULER``), the job's chunks run on the Dask cluster; the thread only
coordinates.

`get_jobs(app)` returns the application's queue, creating it on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
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
