"""The in-process side of the jobs: a thread pool for ad-hoc work of the web process, and
the startup hook that fails the runs a stopped server left open.

`get_jobs(app)` returns the application's `JobQueue`. Its ``wait()`` (and ``kick()`` with
``JOBS_IN_PROCESS``) also drains the durable queue of `api.jobs` in this process with an
`api.worker.Worker`: the tests and the single-process demo use it instead of a separate
``datafin worker``. This module sits above the worker and the services; `api.jobs` (the
queue itself) sits below them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from api.services import risk as risk_service
from api.worker import Worker

logger = logging.getLogger("datafin.jobs")

#: Concurrent ad-hoc jobs per process: two, one per core of a small server.
DEFAULT_WORKERS = 2


class JobQueue:
    """Runs ad-hoc callables on background threads; ``wait()`` also drains the durable
    queue of the app it belongs to (in the calling thread)."""

    def __init__(self, workers: int = DEFAULT_WORKERS, app: Any = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="datafin-job")
        self._futures: list[Future[Any]] = []
        self._lock = threading.Lock()
        self._app = app

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

    def kick(self) -> None:
        """With ``JOBS_IN_PROCESS`` set, run the app's queued durable jobs on this queue's
        threads (development and tests: no separate worker); otherwise do nothing."""
        if self._app is None or not getattr(self._app.state.settings, "jobs_in_process", False):
            return
        self.submit(Worker(self._app.state.session_factory, self._app.state.settings).drain)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every submitted callable, then run the app's still queued durable jobs
        here; True when all finished within ``timeout`` seconds."""
        with self._lock:
            pending = list(self._futures)
        done, not_done = wait(pending, timeout=timeout)
        if self._app is not None:
            Worker(self._app.state.session_factory, self._app.state.settings).drain()
        return not not_done

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


_LOCK = threading.Lock()


def get_jobs(app: Any) -> JobQueue:
    """The application's job queue (``app.state.jobs``), created on first use."""
    with _LOCK:
        queue = getattr(app.state, "jobs", None)
        if queue is None:
            queue = JobQueue(app=app)
            app.state.jobs = queue
        return queue


def recover_interrupted_runs(app: Any) -> list[int]:
    """Startup hook: fail every queued or running run whose job is no longer alive.

    Called by `api.app.create_app`; the runs are marked ``failed`` with
    `INTERRUPTED_ERROR` and any result rows they have are deleted (see
    `api.services.risk.fail_interrupted_runs`). Returns the ids failed.
    """
    try:
        return risk_service.fail_interrupted_runs(app.state.session_factory)
    except Exception:  # never block startup: reads of a run still catch it (lazily)
        logger.exception("could not check for interrupted runs at startup")
        return []
