"""``datafin worker``: runs the durable jobs of the job table (`models.jobs.Job`).

Loop. Each turn the worker first *reaps* (a ``running`` job whose worker is gone goes back
to ``queued``, or fails once it used ``max_attempts``), then *claims* the oldest queued job
(PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` then a conditional update, so
concurrent workers never take the same job; SQLite: the conditional update alone, run one
worker), runs it and records the outcome. While a job runs, a heartbeat thread stamps
``heartbeat_at`` every ``heartbeat_s`` seconds.

A worker is gone when its heartbeat is older than ``lease_s`` (default 60 s, any host),
or at once when it ran on this host and its pid no longer exists. Only a dead worker
causes a retry: a job whose work fails (bad data, a bug) fails at once with its error, as
a second try would fail the same way.

Kinds (`HANDLERS`):

* ``stress_run``: `api.services.risk.execute_run` on the stored run; the run's results are
  written in the same transaction that marks it succeeded, so a retried or failed run
  never shows partial results. A retry puts the run back to ``queued`` (progress 0);
  giving up marks it failed with the reason. Compute goes to Dask when
  ``DASK_SCHEDULER`` is set, as before.

* ``securitization_pricing``: `api.services.products.price_securitization`; the pricing
  run is written in one transaction with the job's id (unique), and a retry after a dead
  worker first looks for it, so a run is stored once and never half. The job's
  ``result`` is the pricing's answer.

* ``sensitivities``: `api.services.sensitivities.sensitivities_now` over the tenant's book; nothing
  is stored but the job's ``result`` (the answer), written when the job succeeds.

* ``loan_revaluation``: `api.services.loan_book.revalue_book`, every live loan of the tenant
  in one transaction (all new LTVs and events, or none); the result lists them.

Metrics: each finished attempt is observed in ``datafin_job_duration_seconds`` by kind and
outcome (succeeded, failed, retried).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.clock import now as clock_now
from models.jobs import Job

logger = logging.getLogger("datafin.worker")

DEFAULT_LEASE_S = 60.0
DEFAULT_HEARTBEAT_S = 5.0
DEFAULT_POLL_S = 1.0


class JobFailed(Exception):
    """The job's work failed (not its worker): the job fails without a retry."""


@dataclass
class JobContext:
    """What a handler gets: the job, its payload, sessions, settings and a progress hook."""

    job_id: int
    payload: dict[str, Any]
    session_factory: Callable[[], Session]
    settings: Any
    progress: Callable[[float], None]


@dataclass(frozen=True)
class JobKind:
    """How a kind runs (``run``), goes back to the queue (``on_retry``) and gives up
    (``on_give_up``); the last two run in the reaper's transaction."""

    run: Callable[[JobContext], Any]
    on_retry: Callable[[Session, dict[str, Any]], None]
    on_give_up: Callable[[Session, dict[str, Any], str], None]


# ------------------------------------------------------------------------ stress runs
def _stress_run(ctx: JobContext) -> Any:
    from api.services import risk
    from models.risk import StressRun

    run_id = int(ctx.payload["run_id"])
    as_of = ctx.payload.get("as_of")
    risk.execute_run(
        ctx.session_factory,
        run_id,
        dask_address=getattr(ctx.settings, "dask_scheduler", None),
        as_of=date.fromisoformat(as_of) if as_of else None,
    )
    with ctx.session_factory() as session:
        run = session.get(StressRun, run_id)
        if run is None:
            raise JobFailed(f"stress run {run_id} no longer exists")
        if run.status != "succeeded":
            raise JobFailed(run.error or f"stress run ended {run.status}")
    return {"run_id": run_id}


def _stress_retry(session: Session, payload: dict[str, Any]) -> None:
    from models.risk import StressResult, StressRun

    run_id = int(payload["run_id"])
    session.execute(sa.delete(StressResult).where(col(StressResult.run_id) == run_id))
    session.execute(
        sa.update(StressRun)
        .where(
            col(StressRun.id) == run_id,
            StressRun.status.in_(("queued", "running")),  # type: ignore[attr-defined]
        )
        .values(status="queued", progress=0.0, started_at=None)
    )


def _stress_give_up(session: Session, payload: dict[str, Any], reason: str) -> None:
    from models.risk import StressResult, StressRun

    run_id = int(payload["run_id"])
    session.execute(sa.delete(StressResult).where(col(StressResult.run_id) == run_id))
    session.execute(
        sa.update(StressRun)
        .where(
            col(StressRun.id) == run_id,
            StressRun.status.in_(("queued", "running")),  # type: ignore[attr-defined]
        )
        .values(status="failed", error=reason, finished_at=clock_now())
    )


# ------------------------------------------------------------- securitization pricing
def _pricing(ctx: JobContext) -> Any:
    from api.schemas.products import PriceRequest
    from api.services import pricing
    from valuation.errors import ValuationError

    p = ctx.payload
    with ctx.session_factory() as session:
        done = pricing.stored_pricing(session, job_id=ctx.job_id)  # a retry after the commit
        if done is None:
            try:
                done = pricing.price_securitization(
                    session,
                    int(p["securitization_id"]),
                    PriceRequest.model_validate(p["request"]),
                    tenant=str(p["tenant"]),
                    actor=str(p["actor"]),
                    job_id=ctx.job_id,
                )
            except ValuationError as exc:  # the inputs, not the worker: no retry
                raise JobFailed(str(exc)) from exc
    return done.model_dump(mode="json", by_alias=True)


def _nothing_to_undo(session: Session, payload: dict[str, Any], *_reason: str) -> None:
    """The job writes its outcome in one transaction at the end: a retry or a failure leaves nothing."""


def _sensitivities(ctx: JobContext) -> Any:
    from api.services import sensitivities as sensitivities_service
    from valuation.errors import ValuationError

    req = dict(ctx.payload["request"])
    try:
        return sensitivities_service.sensitivities_now(
            ctx.session_factory,
            str(ctx.payload["tenant"]),
            paths=int(req["paths"]),
            seed=int(req["seed"]),
            as_of=date.fromisoformat(req["as_of"]),
            horizon_months=int(req["horizon_months"]),
            bumps=req.get("bumps"),
        )
    except ValuationError as exc:  # the book or the request, not the worker
        raise JobFailed(str(exc)) from exc


def _loan_revaluation(ctx: JobContext) -> Any:
    from api.schemas.credit import RevalueIn
    from api.services import loan_book as loan_book_service
    from valuation.errors import ValuationError

    body = RevalueIn.model_validate(ctx.payload["request"])
    with ctx.session_factory() as session:
        try:
            return loan_book_service.revalue_book(
                session, str(ctx.payload["tenant"]), body, actor=str(ctx.payload["actor"])
            )
        except ValuationError as exc:
            raise JobFailed(str(exc)) from exc


HANDLERS: dict[str, JobKind] = {
    "stress_run": JobKind(_stress_run, _stress_retry, _stress_give_up),
    "securitization_pricing": JobKind(_pricing, _nothing_to_undo, _nothing_to_undo),
    "sensitivities": JobKind(_sensitivities, _nothing_to_undo, _nothing_to_undo),
    "loan_revaluation": JobKind(_loan_revaluation, _nothing_to_undo, _nothing_to_undo),
}

#: Hook for tests: called with the job id once a job is claimed, before its work starts.
after_claim_hook: Callable[[int], None] | None = None


# ----------------------------------------------------------------------------- worker
#: Tokens of the `Worker` objects alive in this process (several run in one process in
#: development and tests, ``JOBS_IN_PROCESS``).
_LIVE_TOKENS: set[str] = set()
_LIVE_LOCK = threading.Lock()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class Worker:
    """One worker: claims and runs jobs one at a time."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        settings: Any = None,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        poll_s: float = DEFAULT_POLL_S,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s
        self.poll_s = poll_s
        self.host = socket.gethostname()
        self.token = uuid.uuid4().hex[:12]
        self.ident = f"{self.host}:{os.getpid()}:{self.token}"
        self.stop = threading.Event()
        with _LIVE_LOCK:
            _LIVE_TOKENS.add(self.token)

    # -- reaping
    def _dead(self, job: Job, now: datetime) -> bool:
        owner = (job.worker or "").split(":")
        if len(owner) == 3 and owner[0] == self.host:
            try:
                pid = int(owner[1])
            except ValueError:
                return True
            if pid == os.getpid():  # a worker of this process: alive while its object is
                with _LIVE_LOCK:
                    return owner[2] not in _LIVE_TOKENS
            if not _pid_alive(pid):
                return True
        beat = job.heartbeat_at or job.started_at
        if beat is None:
            return True
        if beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        return beat < now - timedelta(seconds=self.lease_s)

    def reap(self) -> list[int]:
        """Requeue (or fail, past ``max_attempts``) the running jobs of dead workers."""
        from api.observability import JOB_DURATION

        now = clock_now()
        handled: list[int] = []
        with self.session_factory() as session:
            running = session.exec(select(Job).where(Job.status == "running")).all()
            for job in running:
                if job.worker == self.ident or not self._dead(job, now):
                    continue
                handler = HANDLERS.get(job.kind)
                payload = json.loads(job.payload or "{}")
                if job.attempts < job.max_attempts:
                    values: dict[str, Any] = {
                        "status": "queued",
                        "worker": None,
                        "heartbeat_at": None,
                        "progress": 0.0,
                    }
                    outcome = "retried"
                else:
                    reason = (
                        f"interrupted: the worker running this job stopped "
                        f"{job.attempts} times (max_attempts {job.max_attempts})"
                    )
                    values = {"status": "failed", "error": reason, "finished_at": now}
                    outcome = "failed"
                done = session.execute(
                    sa.update(Job)
                    .where(
                        col(Job.id) == job.id,
                        col(Job.status) == "running",
                        col(Job.worker) == job.worker,
                    )
                    .values(**values)
                )
                if not done.rowcount:  # type: ignore[attr-defined]
                    session.rollback()
                    continue
                if handler is not None:
                    if outcome == "retried":
                        handler.on_retry(session, payload)
                    else:
                        handler.on_give_up(session, payload, values["error"])
                session.commit()
                if job.started_at is not None:
                    started = (
                        job.started_at
                        if job.started_at.tzinfo
                        else job.started_at.replace(tzinfo=UTC)
                    )
                    JOB_DURATION.labels(job.kind, outcome).observe(
                        max(0.0, (now - started).total_seconds())
                    )
                logger.warning(
                    "job %s (%s) of dead worker %s: %s", job.id, job.kind, job.worker, outcome
                )
                handled.append(int(job.id))  # type: ignore[arg-type]
        return handled

    # -- claiming
    def claim(self) -> Job | None:
        """Take the oldest queued job (None when there is none)."""
        with self.session_factory() as session:
            for _ in range(5):
                q = (
                    select(Job)
                    .where(Job.status == "queued")
                    .order_by(Job.id)  # type: ignore[arg-type]
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                job = session.exec(q).first()
                if job is None:
                    session.rollback()
                    return None
                now = clock_now()
                done = session.execute(
                    sa.update(Job)
                    .where(col(Job.id) == job.id, col(Job.status) == "queued")
                    .values(
                        status="running",
                        worker=self.ident,
                        attempts=Job.attempts + 1,
                        heartbeat_at=now,
                        started_at=now,
                        progress=0.0,
                    )
                )
                session.commit()
                if done.rowcount:  # type: ignore[attr-defined]
                    session.refresh(job)
                    return job
        return None

    def _heartbeat(self, job_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_s):
            try:
                with self.session_factory() as session:
                    session.execute(
                        sa.update(Job)
                        .where(
                            col(Job.id) == job_id,
                            col(Job.worker) == self.ident,
                            col(Job.status) == "running",
                        )
                        .values(heartbeat_at=clock_now())
                    )
                    session.commit()
            except Exception:  # a missed beat is retried at the next one
                logger.exception("heartbeat of job %s failed", job_id)

    def _progress(self, job_id: int) -> Callable[[float], None]:
        def report(fraction: float) -> None:
            with self.session_factory() as session:
                session.execute(
                    sa.update(Job)
                    .where(col(Job.id) == job_id, col(Job.worker) == self.ident)
                    .values(progress=min(0.99, max(0.0, float(fraction))))
                )
                session.commit()

        return report

    def run_job(self, job: Job) -> str:
        """Run a claimed job to its outcome (``succeeded`` or ``failed``)."""
        from api.observability import JOB_DURATION

        job_id = int(job.id)  # type: ignore[arg-type]
        if after_claim_hook is not None:
            after_claim_hook(job_id)
        stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat,
            args=(job_id, stop),
            daemon=True,
            name=f"datafin-heartbeat-{job_id}",
        )
        beat.start()
        started = time.perf_counter()
        result: Any = None
        error: str | None = None
        try:
            handler = HANDLERS.get(job.kind)
            if handler is None:
                raise JobFailed(f"unknown job kind {job.kind!r}")
            result = handler.run(
                JobContext(
                    job_id,
                    json.loads(job.payload or "{}"),
                    self.session_factory,
                    self.settings,
                    self._progress(job_id),
                )
            )
        except JobFailed as exc:
            error = str(exc)
        except Exception as exc:  # the job ends in a state, whatever went wrong
            logger.exception("job %s (%s) failed", job_id, job.kind)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            stop.set()
            beat.join(timeout=5)
        status = "failed" if error is not None else "succeeded"
        with self.session_factory() as session:
            session.execute(
                sa.update(Job)
                .where(
                    col(Job.id) == job_id,
                    col(Job.worker) == self.ident,
                    col(Job.status) == "running",
                )
                .values(
                    status=status,
                    error=error[:4000] if error else None,
                    result=json.dumps(result, default=str) if result is not None else None,
                    progress=1.0 if status == "succeeded" else Job.progress,
                    finished_at=clock_now(),
                )
            )
            session.commit()
        JOB_DURATION.labels(job.kind, status).observe(time.perf_counter() - started)
        logger.info(
            "job %s (%s) %s",
            job_id,
            job.kind,
            status,
            extra={"fields": {"job_id": job_id, "kind": job.kind, "status": status}},
        )
        return status

    def close(self) -> None:
        """This worker runs nothing more (its running jobs count as dead to others)."""
        with _LIVE_LOCK:
            _LIVE_TOKENS.discard(self.token)

    def run_once(self) -> bool:
        """Reap, then claim and run one job; True when a job ran."""
        self.reap()
        job = self.claim()
        if job is None:
            return False
        self.run_job(job)
        return True

    def drain(self, max_jobs: int | None = None) -> int:
        """Run queued jobs until none is left (or ``max_jobs`` ran); the count run."""
        n = 0
        try:
            while (max_jobs is None or n < max_jobs) and self.run_once():
                n += 1
        finally:
            self.close()
        return n

    def run_forever(self) -> None:
        """Poll for jobs until `stop` is set (SIGTERM / SIGINT set it in `main`)."""
        logger.info("worker %s started", self.ident)
        while not self.stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # e.g. the database is briefly unreachable: try again
                logger.exception("worker turn failed")
                ran = False
            if not ran:
                self.stop.wait(self.poll_s)
        self.close()
        logger.info("worker %s stopped", self.ident)


def main(
    *, lease_s: float = DEFAULT_LEASE_S, poll_s: float = DEFAULT_POLL_S, once: bool = False
) -> None:
    """Entry point of ``datafin worker`` (configuration from the environment)."""
    from api.observability import configure_logging
    from api.settings import Settings
    from models import db

    configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    settings = Settings()
    engine = db.make_engine(settings.database_url)
    db.ensure_schema_current(engine)
    worker = Worker(db.make_session_factory(engine), settings, lease_s=lease_s, poll_s=poll_s)

    def stop(_signum: int, _frame: Any) -> None:
        worker.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if once:
            worker.drain()
        else:
            worker.run_forever()
    finally:
        engine.dispose()
