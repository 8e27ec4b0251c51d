"""Risk services: scenarios, the tenant's book, stress runs as jobs and their results.

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
(`sensitivities_now`) are synchronous: one evaluation of nine bumped variants on common
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
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, select

from api import jobs
from api.clock import rfc3339, today
from api.errors import ConflictError, NotFoundError
from models import credit as credit_models
from models import products as products_models
from models.audit import record_audit
from models.credit import Loan
from models.db import row_id
from models.registry import DataAsset, Signal
from models.risk import RunStatus, StressRun, StressScenario
from models.risk import StressResult as StressResultRow
from risk.adapters import asset_from_revenue, asset_from_simulation
from risk.book import AssetPosition
from risk.booking import (
    DEFAULT_BOOK_CURRENCY,
    BookBuild,
    LoanRecord,
    PledgeRecord,
    SecuritizationRecord,
    TrancheRecord,
    assemble_book,
    book_currency,
)
from risk.executors import DaskExecutor, Executor, LocalExecutor
from risk.inputs import MarketGrid, RunConfig
from risk.library import BUILTIN_NAMES, builtins, get_builtin
from risk.parsing import parse_scenario
from risk.results import StressResult
from risk.reverse import SENIOR_LOSS_MATERIALITY, Limit, reverse_stress
from risk.runner import StressRunner
from risk.scenarios import Scenario
from risk.sensitivities import Bumps, sensitivities
from valuation.conventions import parse_currency
from valuation.errors import ConventionError, ValuationError
from valuation.forecast import half_life_from_profile
from valuation.market import DEFAULT_MARKET_DATA, default_curve

logger = logging.getLogger("datafin.risk")

#: Months of the stress grid: the longest economic life, loan and tranche maturity covered.
GRID_MONTHS = 120
#: Default Monte Carlo paths and seed of a service run (recorded with each run).
DEFAULT_PATHS = 256
DEFAULT_SEED = 20_260_101
#: Progress is written to the database at most this often (seconds).
PROGRESS_INTERVAL_S = 0.2

ProgressFn = Callable[[float], None]


# ----------------------------------------------------------------------------- scenarios
def _stored(session: Session, tenant: str) -> dict[str, StressScenario]:
    rows = session.exec(select(StressScenario).where(StressScenario.tenant == tenant)).all()
    return {r.name: r for r in rows}


def scenario_resolver(session: Session, tenant: str) -> Callable[[str], Any]:
    """Look up a parent by name: the tenant's scenarios, then the built-in library."""
    stored = _stored(session, tenant)

    def resolve(name: str) -> Any:
        if name in stored:
            return stored[name].as_dict()
        return get_builtin(name)

    return resolve


def scenario_view(
    definition: Mapping[str, Any],
    scenario: Scenario,
    *,
    builtin: bool,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """What the API shows for a scenario: its definition and its composed shocks."""
    return {
        "name": scenario.name,
        "builtin": builtin,
        "definition": dict(definition),
        "horizon_months": scenario.horizon_months,
        "extends": scenario.extends,
        "description": scenario.description,
        "shocks": scenario.shocks.as_dict(),
        "created_at": rfc3339(created_at) if created_at else None,
    }


def list_scenarios(session: Session, tenant: str) -> list[dict[str, Any]]:
    """The built-in library, then the tenant's own scenarios by name."""
    out = [scenario_view(s.as_dict(), s, builtin=True) for s in builtins()]
    resolve = scenario_resolver(session, tenant)
    for name, row in sorted(_stored(session, tenant).items()):
        try:
            sc = parse_scenario(row.as_dict(), resolve)
        except ValuationError:  # a parent changed under it: still listed, unresolved
            out.append(
                {
                    "name": name,
                    "builtin": False,
                    "definition": row.as_dict(),
                    "shocks": None,
                    "created_at": rfc3339(row.created_at),
                }
            )
            continue
        out.append(scenario_view(row.as_dict(), sc, builtin=False, created_at=row.created_at))
    return out


def create_scenario(
    session: Session, body: Mapping[str, Any], *, tenant: str, actor: str
) -> dict[str, Any]:
    """Validate and store a tenant scenario (409 when the name is taken)."""
    scenario = parse_scenario(body, scenario_resolver(session, tenant))
    if scenario.name in BUILTIN_NAMES:
        raise ConflictError(
            f"The scenario name {scenario.name!r} belongs to the built-in "
            "library; choose another name (or extend it)."
        )
    if scenario.name in _stored(session, tenant):
        raise ConflictError(f"A scenario named {scenario.name!r} already exists.")
    row = StressScenario(
        name=scenario.name, tenant=tenant, definition=json.dumps(dict(body), sort_keys=True)
    )
    session.add(row)
    try:
        session.flush()
    except sa.exc.IntegrityError:  # a concurrent request stored the same name first
        session.rollback()
        raise ConflictError(f"A scenario named {scenario.name!r} already exists.") from None
    record_audit(
        session,
        actor=actor,
        action="scenario.create",
        entity="stress_scenario",
        entity_id=str(row.id),
        payload=dict(body),
        tenant=tenant,
    )
    session.commit()
    return scenario_view(body, scenario, builtin=False, created_at=row.created_at)


def resolve_scenario(session: Session, tenant: str, ref: str | Mapping[str, Any]) -> Scenario:
    """A scenario by name (tenant's or built-in) or inline JSON; errors name the field."""
    resolve = scenario_resolver(session, tenant)
    if isinstance(ref, str):
        found = resolve(ref)
        if found is None:
            raise ConventionError(
                f"The `scenario` must name a built-in or stored scenario. Got {ref!r}.",
                field="scenario",
            )
        return found if isinstance(found, Scenario) else parse_scenario(found, resolve)
    if not isinstance(ref, Mapping):
        raise ConventionError(
            "The `scenario` must be a scenario name or a scenario object.", field="scenario"
        )
    try:
        return parse_scenario(ref, resolve)
    except ConventionError as exc:
        raise ConventionError(
            str(exc), field=f"scenario.{exc.field}" if exc.field else "scenario"
        ) from None


# ----------------------------------------------------------------------------- book
def _revenue_history(session: Session, asset_id: int) -> np.ndarray:
    rows = session.exec(
        select(Signal)
        .where(Signal.asset_id == asset_id, Signal.metric == "revenue")
        .order_by(col(Signal.month))
    ).all()
    return np.array([float(r.value) for r in rows], dtype=np.float64)


def _asset_from_valuation(
    session: Session,
    row: DataAsset,
    currency: str,
    grid: MarketGrid,
    as_of: date,
    n_paths: int,
    seed: int,
    notes: list[str],
) -> AssetPosition | None:
    """The asset on `valuation`'s own Monte Carlo paths, calibrated to its reconciled value."""
    from api.services import valuation as valuation_service

    try:
        result = valuation_service.value_registered_asset(
            session,
            row_id(row),
            as_of=as_of,
            currency=currency,
            paths=n_paths,
            seed=seed + row_id(row),
        )
        sim = result.simulation
        half_life = float(dict(getattr(sim, "parameters", {})).get("half_life_months", math.inf))
        kw: dict[str, Any] = {
            "asset_id": str(row.id),
            "category": row.category,
            "currency": currency,
            "simulation": sim,
            "grid": grid,
            "cross_border": bool(row.cross_border),
            "half_life_months": half_life,
        }
        try:
            return asset_from_simulation(**kw, target_value=float(result.value))
        except ValuationError:
            return asset_from_simulation(**kw)
    except Exception as exc:  # noqa: BLE001 - any failure falls back to the parametric model
        notes.append(
            f"asset {row.id}: valuation simulation unavailable "
            f"({type(exc).__name__}: {str(exc)[:120]})"
        )
        return None


def build_book(
    session: Session,
    tenant: str,
    *,
    as_of: date | None = None,
    n_paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    use_valuation: bool = True,
) -> BookBuild:
    """The tenant's book from the database (see the module notes).

    Loans enter at their outstanding balance and remaining maturity at ``as_of`` (their
    contractual schedule); a loan that has matured by then is left out (noted).

    Each asset is put on the valuation engine's simulated paths (`valuation`'s
    ``value_asset`` with ``n_paths`` paths), its risk premium calibrated so that the base
    collateral value equals the reconciled valuation; when that is not possible it falls back
    to the parametric model fitted on its revenue signals (`risk.adapters`).
    """
    as_of = as_of or today()  # one date for the whole book
    notes: list[str] = []
    loan_rows = credit_models.live_loans(session, tenant)
    loans = [_loan_record(r) for r in loan_rows]
    pledges = [
        PledgeRecord(
            loan_id=str(p.loan_id),
            asset_id=str(p.asset_id),
            amount=float(p.amount),
            lending_value=float(p.lending_value),
        )
        for p in credit_models.live_pledges(session, [row_id(r) for r in loan_rows])
    ]
    currency = book_currency(loans)
    pledged_assets = {p.asset_id for p in pledges}
    assets: list[AssetPosition] = []
    q = select(DataAsset).where(
        sa.or_(
            col(DataAsset.owner_tenant) == tenant,
            col(DataAsset.id).in_([int(a) for a in pledged_assets if a.isdigit()]),
        )
    )
    grid = market_grid(as_of, currency)
    simulated = 0
    for row in session.exec(q.order_by(col(DataAsset.id))).all():
        position = None
        if use_valuation:
            position = _asset_from_valuation(
                session, row, currency, grid, as_of, n_paths, seed, notes
            )
        if position is not None:
            simulated += 1
            assets.append(position)
            continue
        revenue = _revenue_history(session, row_id(row))
        try:
            assets.append(
                asset_from_revenue(
                    asset_id=str(row.id),
                    category=row.category,
                    currency=currency,
                    revenue=revenue,
                    cross_border=bool(row.cross_border),
                    half_life_months=half_life_from_profile(row.timeliness, row.refresh_days),
                )
            )
        except ValuationError as exc:
            notes.append(f"asset {row.id} left out: {exc}")
    if assets and simulated < len(assets):
        notes.append(
            f"{len(assets) - simulated} of {len(assets)} assets on the parametric "
            "revenue model (no valuation simulation available)"
        )
    return assemble_book(
        as_of=as_of,
        currency=currency,
        assets=assets,
        loans=loans,
        pledges=pledges,
        securitizations=_securitization_records(session, tenant, notes),
        notes=notes,
    )


def _loan_record(r: Loan) -> LoanRecord:
    return LoanRecord(
        id=str(r.id),
        currency=r.currency,
        principal=float(r.principal),
        annual_rate=float(r.annual_rate),
        start_date=r.start_date,
        tenor_months=int(r.tenor_months),
        amortization=str(r.amortization),
        frequency_months=int(r.frequency_months),
        day_count=str(r.day_count),
        calendar=r.calendar,
        ead=float(r.ead),
        pd=float(r.pd),
        lgd=float(r.lgd),
        lgd_regulatory=float(r.lgd_regulatory),
        expected_loss=float(r.expected_loss),
        capital=float(r.capital),
    )


def _securitization_records(
    session: Session, tenant: str, notes: list[str]
) -> list[SecuritizationRecord]:
    """The tenant's securitizations: the pool is ``spec.pool.loan_ids``; the tranches are
    the stored tranche rows, senior first (an unreadable spec is noted and left out)."""
    secs = products_models.securitizations_of(session, tenant)
    tranche_rows = products_models.tranches_by_securitization(session, [row_id(x) for x in secs])
    out: list[SecuritizationRecord] = []
    for sec in secs:
        try:
            spec = json.loads(sec.spec or "{}")
            raw_ids = (spec.get("pool") or {}).get("loan_ids") or spec.get("loan_ids") or []
            tranches = tuple(
                TrancheRecord(
                    name=t.name,
                    attach=float(t.attach),
                    detach=float(t.detach),
                    balance=float(t.balance),
                    coupon=None if t.coupon is None else float(t.coupon),
                    spread_bp=None if t.spread_bp is None else float(t.spread_bp),
                )
                for t in tranche_rows[row_id(sec)]
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            notes.append(f"securitization {sec.id} left out: {exc}")
            continue
        out.append(SecuritizationRecord(str(sec.id), tuple(str(x) for x in raw_ids), tranches))
    return out


def market_grid(as_of: date, currency: str = DEFAULT_BOOK_CURRENCY) -> MarketGrid:
    """The risk-free grid of service runs: the currency's default curve
    (`valuation.market.DEFAULT_MARKET_DATA`), the one valuation discounts at, so stress and
    valuation discount alike. A currency with no default is an error naming it."""
    if parse_currency(currency) not in DEFAULT_MARKET_DATA:
        raise ConventionError(
            f"The book's `currency` {currency} has no default risk-free curve to stress on "
            f"(defaults exist for {', '.join(DEFAULT_MARKET_DATA)}).",
            field="currency",
        )
    return MarketGrid.from_market(default_curve(as_of, currency), GRID_MONTHS)


# ----------------------------------------------------------------------------- runs
def _now() -> datetime:
    return datetime.now(UTC)


#: Units of each reverse-stress limit's threshold and metric.
LIMIT_UNITS = {
    "expected_loss_budget": "currency (portfolio expected loss)",
    "senior_tranche_loss": "fraction of the senior tranche's notional",
    "margin_calls": "loans in margin call",
}
#: Largest scale a reverse stress may search (the shocks are bounded at 100x anyway).
MAX_REVERSE_SCALE = 20.0


def parse_reverse(spec: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Validate a reverse-stress request; errors name ``reverse.<field>``.

    ``{"limit": "expected_loss_budget" | "senior_tranche_loss" | "margin_calls",
    "threshold": number >= 0 (required except for senior_tranche_loss, whose default is
    `risk.reverse.SENIOR_LOSS_MATERIALITY`; a whole number for margin_calls),
    "max_scale": number in (0, 20], default 4}``.
    """
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise ConventionError(
            "The `reverse` must be an object with `limit` and `threshold`.", field="reverse"
        )
    unknown = sorted(set(spec) - {"limit", "threshold", "max_scale"})
    if unknown:
        raise ConventionError(
            f"The `reverse` has unknown field {unknown[0]!r}.", field=f"reverse.{unknown[0]}"
        )
    kind = spec.get("limit")
    if kind not in LIMIT_UNITS:
        raise ConventionError(
            "The `limit` of `reverse` must be expected_loss_budget, "
            f"senior_tranche_loss or margin_calls. Got {kind!r}.",
            field="reverse.limit",
        )
    threshold = spec.get("threshold")
    if threshold is None and kind == "senior_tranche_loss":
        threshold = SENIOR_LOSS_MATERIALITY
    if threshold is None:
        raise ConventionError(
            f"The `threshold` of `reverse` is required for {kind}.", field="reverse.threshold"
        )
    if kind == "margin_calls" and not (
        isinstance(threshold, int | float)
        and not isinstance(threshold, bool)
        and float(threshold).is_integer()
    ):
        raise ConventionError(
            "The `threshold` of `reverse` must be a whole number of loans "
            f"for margin_calls. Got {threshold!r}.",
            field="reverse.threshold",
        )
    try:
        limit = Limit(kind, threshold)
    except ConventionError as exc:
        raise ConventionError(str(exc), field="reverse.threshold") from None
    max_scale = spec.get("max_scale", 4.0)
    if (
        isinstance(max_scale, bool)
        or not isinstance(max_scale, int | float)
        or not math.isfinite(max_scale)
        or not 0 < max_scale <= MAX_REVERSE_SCALE
    ):
        raise ConventionError(
            f"The `max_scale` of `reverse` must be in (0, {MAX_REVERSE_SCALE:g}]."
            f" Got {max_scale!r}.",
            field="reverse.max_scale",
        )
    return {"limit": limit.kind, "threshold": limit.threshold, "max_scale": float(max_scale)}


def reverse_view(result: Any, max_scale: float, currency: str) -> dict[str, Any]:
    """What a run reports of its reverse stress (`risk.reverse.ReverseStressResult`)."""
    kind = result.limit.kind
    if result.scale is None:
        reading = (
            f"not broken: {kind} stays within {result.limit.threshold:g} up to "
            f"{max_scale:g} times the scenario"
        )
    elif result.method == "at_zero":
        reading = f"already broken without any shock (base {result.base_metric:g})"
    else:
        reading = (
            f"broken at {result.scale:.4g} times the scenario "
            f"({kind} {result.metric_at_scale:g} vs limit {result.limit.threshold:g})"
        )
        if result.method == "brentq_step":
            reading += (
                "; the metric steps across the limit there (a Monte Carlo step: "
                "more paths smooth it)"
            )
    return {
        "scenario": result.scenario,
        "limit": kind,
        "threshold": result.limit.threshold,
        "unit": LIMIT_UNITS[kind].replace("currency", currency),
        "breached": result.breached,
        "scale": result.scale,
        "metric_at_scale": result.metric_at_scale,
        "base_metric": result.base_metric,
        "bracket": list(result.bracket) if result.bracket else None,
        "method": result.method,
        "evaluations": result.evaluations,
        "xtol": result.xtol,
        "max_scale": max_scale,
        "reading": reading,
    }


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
        .values(status="failed", error=jobs.INTERRUPTED_ERROR, finished_at=_now())
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
                .values(status="running", started_at=_now(), progress=0.0)
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
                    finished_at=_now(),
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
                .values(status="failed", error=message[:4000], finished_at=_now())
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
    """The API contract's stress-results shape from the stored rows (only for a succeeded run)."""
    rows = _rows(session, run)
    aggregate: dict[str, Any] = {}
    positions: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for r in rows:
        cell = {"base": r.base, "stressed": r.stressed, "delta": r.delta}
        if r.kind == "aggregate":
            aggregate[r.metric] = cell
            continue
        if current is None or current["kind"] != r.kind or current["id"] != r.position_id:
            current = {"kind": r.kind, "id": r.position_id}
            positions.append(current)
        current[r.metric] = cell
    record = public_record(run)
    return {
        "run_id": run.id,
        "scenario": run.scenario_name,
        "scenario_definition": json.loads(run.scenario),
        "record": record,
        "aggregate": aggregate,
        "positions": positions,
        "reverse": (record or {}).get("reverse"),
    }


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


#: Units of the sensitivities (currency stands for the book's currency).
SENSITIVITY_UNITS = {
    "dv01": "currency per +1 bp of the risk-free curve (change in value)",
    "cs01": "currency per +1 bp of credit spread (change in value)",
    "revenue_elasticity": "d ln X / d ln revenue; X = collateral value (assets), expected "
    "loss (loans), value (tranches)",
    "correlation_sensitivity": "currency of expected loss per +0.01 asset correlation",
}


#: Positions times paths above which sensitivities are a durable job (202) rather than
#: computed in the request: e.g. 1,000 positions at 256 paths, or 61 at 4,096.
SYNC_SENSITIVITY_WORK = 256_000


def sensitivity_work(session: Session, tenant: str, *, paths: int) -> int:
    """The size of a sensitivities request, counted in SQL without building the book: the
    tenant's live loans, its assets and its securitizations' tranches, times ``paths``."""
    from models.credit import Loan
    from models.products import Securitization, SecuritizationTranche
    from models.registry import DataAsset

    def count(query: Any) -> int:
        return int(session.execute(query).scalar_one())

    n = count(
        sa.select(sa.func.count())
        .select_from(Loan)
        .where(col(Loan.tenant) == tenant, col(Loan.status) == "live")
    )
    n += count(
        sa.select(sa.func.count())
        .select_from(DataAsset)
        .where(col(DataAsset.owner_tenant) == tenant)
    )
    n += count(
        sa.select(sa.func.count())
        .select_from(SecuritizationTranche)
        .join(
            Securitization, col(Securitization.id) == col(SecuritizationTranche.securitization_id)
        )
        .where(col(Securitization.tenant) == tenant)
    )
    return n * int(paths)


def queue_sensitivities(session: Session, tenant: str, request: Mapping[str, Any]) -> Any:
    """Queue a ``sensitivities`` job (committed) whose result is `sensitivities_now`'s answer."""
    job = jobs.enqueue(
        session, "sensitivities", {"tenant": tenant, "request": dict(request)}, tenant=tenant
    )
    session.commit()
    return job


def sensitivities_now(
    session_factory: Callable[[], Session],
    tenant: str,
    *,
    paths: int = DEFAULT_PATHS,
    seed: int = DEFAULT_SEED,
    as_of: date | None = None,
    horizon_months: int = 12,
    bumps: Mapping[str, float] | None = None,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """DV01, CS01, revenue elasticity and correlation sensitivity of the tenant's book.

    Per position and in total (per kind and overall), with the bump sizes and units
    (`risk.sensitivities.sensitivities`); nothing is stored. Bad bumps name
    ``bumps.<field>``.
    """
    try:
        b = Bumps(**dict(bumps or {}))
    except TypeError as exc:
        raise ConventionError(f"The `bumps` has an unknown field: {exc}.", field="bumps") from None
    cfg = RunConfig(n_paths=paths, seed=seed)
    day = as_of or today()
    with session_factory() as session:
        built = build_book(session, tenant, as_of=day, n_paths=paths, seed=seed)
    runner = StressRunner(
        built.book, market_grid(day, built.book.currency), cfg, executor or LocalExecutor()
    )
    res = sensitivities(runner, bumps=b, horizon_months=horizon_months)

    def num(x: Any) -> float | None:
        x = float(x)
        return x if math.isfinite(x) else None

    cols = ("dv01", "cs01", "revenue_elasticity", "correlation_sensitivity")
    positions, totals = [], {}
    for row in res.table.to_dict(orient="records"):
        figures = {c: num(row[c]) for c in cols}
        kind = str(row["kind"])
        if kind.startswith("total"):
            totals[kind.removeprefix("total").lstrip("_") or "total"] = figures
        else:
            positions.append({"kind": kind, "id": str(row["id"]), **figures})
    return {
        "tenant": tenant,
        "as_of": day.isoformat(),
        "currency": built.book.currency,
        "horizon_months": horizon_months,
        "paths": paths,
        "seed": seed,
        "bumps": b.as_dict(),
        "units": SENSITIVITY_UNITS,
        "method": ("central differences, bump and revalue on common random numbers"),
        "positions": positions,
        "totals": totals,
        "notes": built.notes,
    }


__all__ = [
    "BookBuild",
    "build_book",
    "create_run",
    "create_scenario",
    "execute_run",
    "fail_interrupted_runs",
    "parse_reverse",
    "reverse_view",
    "sensitivities_now",
    "get_run",
    "list_scenarios",
    "make_executor",
    "resolve_scenario",
    "results_csv",
    "results_json",
    "run_view",
    "stress_now",
]
