"""Risk services: stress runs as jobs and their results (and a run in the request).

Beside this module: the tenant's scenarios (`api.services.scenarios`), the tenant's book
and its risk-free grid (`api.services.stress_book`), sensitivities
(`api.services.sensitivities`).

Called by the HTTP router (`api.routers.risk`), the CLI (`datafin stress`) and the demo
step, so all three behave the same.

Book. A tenant's book is built from what the database holds: the data assets the tenant
owns (with their revenue signals: a log-linear trend and volatility per asset, see
`risk.adapters.asset_from_revenue`), plus the tenant's loans and securitizations when the
credit and products tables are present and readable. Positions that cannot be built (an
asset with too short a history, a loan in another currency) are left out and listed in
the run's ``record.notes``: the run degrades to the positions that exist.

Runs. `create_run` validates the scenario first (a bad scenario is a 422 and nothing is
written), then stores a ``queued`` run. `execute_run` (the job body, on a background
thread or inline) marks it ``running``, updates ``progress`` as chunks finish, and writes
every result row *in the same transaction* that marks it ``succeeded``; on any error the
run is marked ``failed`` with the message and no result rows exist.

Interrupted runs. Each run records the process that owns its job (``record.worker``,
`api.jobs.worker_identity`). A run still ``queued`` or ``running`` whose job is no longer
alive (`api.jobs.job_alive`: the owning process stopped) is marked ``failed`` with
`api.jobs.INTERRUPTED_ERROR`, and any result row it has is deleted in the same
transaction: at application start (`fail_interrupted_runs`, called through
`api.job_queue.recover_interrupted_runs`) and whenever the run is read (`get_run`,
`list_runs`). State changes are conditional on the status (``queued`` -> ``running`` ->
``succeeded``), so a job whose run was declared interrupted can never publish results.

Reverse stress and sensitivities. A run may carry a ``reverse`` request (`parse_reverse`):
after the stress figures, the job finds the smallest scale of the run's scenario that
breaks the limit (`risk.reverse.reverse_stress`) and stores it with the results (the
``reverse`` block of `results_json`), so it is a job like any run. Sensitivities
(`api.services.sensitivities.sensitivities_now`) are synchronous: one evaluation of nine bumped variants on common
random numbers; building the book (valuing each asset) dominates, about 0.6 s for the demo
book of 10 assets, 4 loans and 3 tranches, and the bumps add under 0.1 s.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from api import jobs
from api.clock import now as clock_now
from api.clock import rfc3339, today
from api.errors import ConflictError, NotFoundError
from api.services.reverse_stress import parse_reverse, reverse_view
from api.services.scenarios import resolve_scenario
from api.services.stress_book import DEFAULT_PATHS, DEFAULT_SEED, build_book, market_grid
from models.audit import record_audit
from models.db import row_id
from models.risk import RunStatus, StressRun
from models.risk import StressResult as StressResultRow
from risk.booking import (
    BookBuild,
)
from risk.executors import DaskExecutor, Executor, LocalExecutor
from risk.inputs import RunConfig
from risk.parsing import parse_scenario
from risk.results import StressResult, results_document
from risk.reverse import Limit, reverse_stress
from risk.runner import StressRunner

logger = logging.getLogger("datafin.risk")

#: Progress is written to the database at most this often (seconds).
PROGRESS_INTERVAL_S = 0.2

ProgressFn = Callable[[float], None]


# ----------------------------------------------------------------------------- runs
def create_run(
    session: Session,
    scenario_ref: str | Mapping[str, Any],
    *,
    tenant: str,
    actor: str,
    paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    as_of: date | None = None,
    reverse: Mapping[str, Any] | None = None,
    durable: bool = False,
) -> StressRun:
    """Validate the scenario (and any reverse request) and store a queued run (nothing is
    written on bad input).

    ``durable``: also queue a ``stress_run`` job in the same transaction (`api.jobs`), run
    by ``datafin worker`` (the HTTP API); otherwise the caller runs it (the CLI, inline).
    """
    scenario = resolve_scenario(session, tenant, scenario_ref)
    reverse_spec = parse_reverse(reverse)
    RunConfig(n_paths=paths, seed=seed)
    # stored composed (its parent's shocks already merged), so it runs as it was when queued
    composed = {k: v for k, v in scenario.as_dict().items() if k != "extends"}
    run = StressRun(
        tenant=tenant,
        scenario_name=scenario.name,
        scenario=json.dumps(composed, sort_keys=True),
        status=RunStatus.QUEUED.value,
        progress=0.0,
        record=json.dumps(
            {
                "requested": {
                    "paths": paths,
                    "seed": seed,
                    "as_of": as_of.isoformat() if as_of else None,
                    **({"reverse": reverse_spec} if reverse_spec else {}),
                },
                "extends": scenario.extends,
                "worker": jobs.QUEUE_OWNER if durable else jobs.worker_identity(),
            }
        ),
    )
    session.add(run)
    session.flush()  # its id
    assert run.id is not None
    if durable:  # the job commits with the run: neither exists without the other
        jobs.enqueue(
            session,
            "stress_run",
            {"run_id": run.id, "as_of": (as_of or today()).isoformat()},
            ref=str(run.id),
            tenant=tenant,
        )
    record_audit(
        session,
        actor=actor,
        action="stress_run.create",
        entity="stress_run",
        entity_id=str(run.id),
        payload={"scenario": scenario.as_dict()},
        tenant=tenant,
    )
    if durable:
        session.commit()
        return run
    jobs.claim(run.id)  # before the commit: a reader never sees it queued and unowned
    try:
        session.commit()
    except BaseException:
        jobs.release(run.id)
        raise
    return run


_OPEN = ("queued", "running")


def _worker(run: StressRun) -> Any:
    try:
        return json.loads(run.record or "{}").get("worker")
    except (ValueError, AttributeError):
        return None


def _fail_if_interrupted(session: Session, run: StressRun) -> bool:
    """Mark ``run`` failed (interrupted) when it is open and its job is dead; True if so."""
    if run.status not in _OPEN or jobs.job_alive(row_id(run), _worker(run)):
        return False
    session.execute(sa.delete(StressResultRow).where(col(StressResultRow.run_id) == run.id))
    done = session.execute(
        sa.update(StressRun)
        .where(col(StressRun.id) == run.id, col(StressRun.status).in_(_OPEN))
        .values(status="failed", error=jobs.INTERRUPTED_ERROR, finished_at=clock_now())
    )
    session.commit()
    session.refresh(run)
    if done.rowcount:  # type: ignore[attr-defined]
        logger.warning("stress run %s marked failed: %s", run.id, jobs.INTERRUPTED_ERROR)
    return bool(done.rowcount)  # type: ignore[attr-defined]


def fail_interrupted_runs(session_factory: Callable[[], Session]) -> list[int]:
    """Mark every open run whose job is dead as failed (interrupted); returns their ids."""
    failed: list[int] = []
    with session_factory() as session:
        rows = session.exec(select(StressRun).where(StressRun.status.in_(_OPEN))).all()  # type: ignore[attr-defined]
        for run in rows:
            if _fail_if_interrupted(session, run):
                failed.append(int(run.id))  # type: ignore[arg-type]
    return failed


def get_run(session: Session, run_id: int, *, tenant: str) -> StressRun:
    """The tenant's run; another tenant's run is a 404."""
    run = session.get(StressRun, run_id)
    if run is None or run.tenant != tenant:
        raise NotFoundError(f"No stress run {run_id}.")
    _fail_if_interrupted(session, run)
    return run


def list_runs(
    session: Session, *, tenant: str, limit: int, before: tuple[str, int] | None = None
) -> tuple[list[StressRun], bool]:
    """The tenant's runs, newest first; ``before`` = (created_at ISO, id) of the last seen."""
    q = select(StressRun).where(StressRun.tenant == tenant)
    if before is not None:
        at = datetime.fromisoformat(before[0])
        q = q.where(
            sa.or_(
                col(StressRun.created_at) < at,
                sa.and_(col(StressRun.created_at) == at, col(StressRun.id) < before[1]),
            )
        )
    rows = list(
        session.exec(
            q.order_by(
                col(StressRun.created_at).desc(),
                col(StressRun.id).desc(),
            ).limit(limit + 1)
        ).all()
    )
    for run in rows[:limit]:
        _fail_if_interrupted(session, run)
    return rows[:limit], len(rows) > limit


def public_record(run: StressRun) -> dict[str, Any] | None:
    """The run's record as clients see it: without ``worker`` (host and pid of the
    process that owns the job, kept for `api.jobs.job_alive` only)."""
    if not run.record:
        return None
    record = json.loads(run.record)
    record.pop("worker", None)
    return dict(record)


def run_view(run: StressRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "progress": run.progress,
        "scenario": run.scenario_name,
        "error": run.error,
        "record": public_record(run),
        "created_at": rfc3339(run.created_at) if run.created_at else None,
        "started_at": rfc3339(run.started_at) if run.started_at else None,
        "finished_at": rfc3339(run.finished_at) if run.finished_at else None,
    }


def _result_rows(run_id: int, result: StressResult) -> list[dict[str, Any]]:
    def num(x: Any) -> float | None:
        x = float(x)
        return x if math.isfinite(x) else None

    rows = [
        {
            "run_id": run_id,
            "kind": "aggregate",
            "position_id": "",
            "metric": m,
            "base": num(r.base),
            "stressed": num(r.stressed),
            "delta": num(r.delta),
        }
        for m, r in result.aggregate.iterrows()
    ]
    pos = result.positions
    for kind, pid, metric, b, s, d in zip(
        pos["kind"],
        pos["id"],
        pos["metric"],
        pos["base"],
        pos["stressed"],
        pos["delta"],
        strict=True,
    ):
        rows.append(
            {
                "run_id": run_id,
                "kind": kind,
                "position_id": str(pid),
                "metric": metric,
                "base": num(b),
                "stressed": num(s),
                "delta": num(d),
            }
        )
    return rows


#: Hook for tests: called with the run id after the stress figures are computed and just
#: before the results are written (a failure injected here must leave nothing behind).
before_write_hook: Callable[[int], None] | None = None


def execute_run(
    session_factory: Callable[[], Session],
    run_id: int,
    *,
    executor: Executor | None = None,
    config: RunConfig | None = None,
    as_of: date | None = None,
    on_progress: ProgressFn | None = None,
    dask_address: str | None = None,
) -> None:
    """Run a stored stress run to completion (the job body); never raises.

    ``on_progress(fraction)`` is called as chunks finish (e.g. a CLI progress bar), in
    addition to the run's ``progress`` column being updated. Without an ``executor``, a
    Dask client is opened on ``dask_address`` when given (and closed at the end), else the
    local executor is used; a scheduler that cannot be reached fails the run.
    """
    owned: Executor | None = None
    try:
        if executor is None and dask_address:
            executor = owned = make_executor(dask_address)
        with session_factory() as session:
            run = session.get(StressRun, run_id)
            if run is None:
                return
            started = session.execute(
                sa.update(StressRun)
                .where(col(StressRun.id) == run_id, col(StressRun.status) == "queued")
                .values(status="running", started_at=clock_now(), progress=0.0)
            )
            session.commit()
            if not started.rowcount:  # type: ignore[attr-defined]
                return  # no longer queued (e.g. declared interrupted): nothing to do
            session.refresh(run)
            tenant = run.tenant
            scenario = parse_scenario(json.loads(run.scenario), {})
            stored_record = json.loads(run.record or "{}")
            requested = stored_record.get("requested", {})
            cfg = config or RunConfig(
                n_paths=int(requested.get("paths", DEFAULT_PATHS)),
                seed=int(requested.get("seed", DEFAULT_SEED)),
            )
            if as_of is None and requested.get("as_of"):
                as_of = date.fromisoformat(str(requested["as_of"]))
            built = build_book(session, tenant, as_of=as_of, n_paths=cfg.n_paths, seed=cfg.seed)
        runner = StressRunner(
            built.book,
            market_grid(as_of or today(), built.book.currency),
            cfg,
            executor or LocalExecutor(),
        )
        last = [0.0]

        def progress(fraction: float) -> None:
            if on_progress is not None:
                on_progress(fraction)
            now = time.monotonic()
            if fraction < 1.0 and now - last[0] < PROGRESS_INTERVAL_S:
                return
            last[0] = now
            with session_factory() as s:
                s.execute(
                    sa.update(StressRun)
                    .where(col(StressRun.id) == run_id, col(StressRun.status) == "running")
                    .values(progress=min(0.99, float(fraction)))
                )
                s.commit()

        reverse_spec = requested.get("reverse")
        share = 0.5 if reverse_spec else 1.0
        result = runner.run(scenario, lambda x: progress(share * x))[0]
        reverse_doc = None
        if reverse_spec:
            found = reverse_stress(
                runner,
                scenario,
                Limit(reverse_spec["limit"], reverse_spec["threshold"]),
                max_scale=float(reverse_spec["max_scale"]),
                on_evaluation=lambda n: progress(0.5 + 0.49 * n / (n + 10)),
            )
            reverse_doc = reverse_view(found, float(reverse_spec["max_scale"]), built.book.currency)
            progress(0.99)
        if before_write_hook is not None:
            before_write_hook(run_id)
        record = {
            **stored_record,
            **result.record,
            "as_of": (as_of or today()).isoformat(),
            "positions": {
                "assets": len(built.book.assets),
                "loans": len(built.book.loans),
                "tranches": len(built.book.tranches),
            },
            "notes": built.notes,
            "currency": built.book.currency,
            **({"booked": built.booked} if built.booked else {}),
            **({"reverse": reverse_doc} if reverse_doc else {}),
        }
        rows = _result_rows(run_id, result)
        with session_factory() as session:
            done = session.execute(
                sa.update(StressRun)
                .where(col(StressRun.id) == run_id, col(StressRun.status) == "running")
                .values(
                    status="succeeded",
                    progress=1.0,
                    finished_at=clock_now(),
                    record=json.dumps(record, default=str),
                )
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                session.rollback()  # declared failed meanwhile: publish nothing
                return
            if rows:
                session.execute(sa.insert(StressResultRow), rows)
            session.commit()
    except Exception as exc:  # the job must end in a state, whatever went wrong
        logger.exception("stress run %s failed", run_id)
        message = f"{type(exc).__name__}: {exc}"
        with session_factory() as session:
            session.execute(sa.delete(StressResultRow).where(col(StressResultRow.run_id) == run_id))
            session.execute(
                sa.update(StressRun)
                .where(col(StressRun.id) == run_id, col(StressRun.status).in_(_OPEN))
                .values(status="failed", error=message[:4000], finished_at=clock_now())
            )
            session.commit()
    finally:
        jobs.release(run_id)
        close = getattr(owned, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # closing a broken client must not mask the run's state
                logger.exception("closing the executor of run %s failed", run_id)


#: Seconds a run waits for a configured Dask scheduler before it fails.
DASK_CONNECT_TIMEOUT_S = 10.0


def make_executor(dask_address: str | None) -> Executor:
    """Dask when a scheduler address is configured, else the local executor."""
    if dask_address:
        return DaskExecutor(dask_address, timeout_s=DASK_CONNECT_TIMEOUT_S)
    return LocalExecutor()


def results_json(session: Session, run: StressRun) -> dict[str, Any]:
    """The API contract's stress-results shape (`risk.results.results_document`, as a run
    in memory gives it) from the stored rows; only for a succeeded run."""
    record = public_record(run)
    document = results_document(
        run_id=run.id,
        scenario=run.scenario_name,
        scenario_definition=json.loads(run.scenario),
        record=record,
        rows=(
            (r.kind, r.position_id, r.metric, r.base, r.stressed, r.delta)
            for r in _rows(session, run)
        ),
    )
    return {**document, "reverse": (record or {}).get("reverse")}


def results_csv(session: Session, run: StressRun) -> str:
    """The stored rows as CSV: run_id, scenario, kind, id, metric, base, stressed, delta."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["run_id", "scenario", "kind", "id", "metric", "base", "stressed", "delta"])
    for r in _rows(session, run):
        w.writerow(
            [
                run.id,
                run.scenario_name,
                r.kind,
                r.position_id,
                r.metric,
                *("" if v is None else repr(float(v)) for v in (r.base, r.stressed, r.delta)),
            ]
        )
    return buf.getvalue()


def _rows(session: Session, run: StressRun) -> list[StressResultRow]:
    if run.status != "succeeded":
        raise ConflictError(
            f"The stress run {run.id} is {run.status}; results exist only once it has succeeded."
        )
    return list(
        session.exec(
            select(StressResultRow)
            .where(StressResultRow.run_id == run.id)
            .order_by(col(StressResultRow.id))
        ).all()
    )


def stress_now(
    session_factory: Callable[[], Session],
    tenant: str,
    scenario_refs: Sequence[str | Mapping[str, Any]],
    *,
    as_of: date | None = None,
    config: RunConfig | None = None,
    executor: Executor | None = None,
    progress: ProgressFn | None = None,
) -> tuple[list[StressResult], BookBuild]:
    """Run scenarios synchronously over the tenant's book (CLI and demo), storing nothing."""
    cfg = config or RunConfig(n_paths=DEFAULT_PATHS, seed=DEFAULT_SEED)
    with session_factory() as session:
        scenarios = [resolve_scenario(session, tenant, ref) for ref in scenario_refs]
        built = build_book(session, tenant, as_of=as_of, n_paths=cfg.n_paths, seed=cfg.seed)
    runner = StressRunner(
        built.book,
        market_grid(as_of or today(), built.book.currency),
        cfg,
        executor or LocalExecutor(),
    )
    return runner.run(scenarios, progress), built
