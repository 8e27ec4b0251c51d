"""Sensitivities of a tenant's book (DV01, CS01, revenue elasticity, correlation
sensitivity per position and in total, `risk.sensitivities`): computed in the request up to
`SYNC_SENSITIVITY_WORK` position-paths, else queued as a durable job (202).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from api import jobs
from api.clock import today
from api.services.stress_book import DEFAULT_PATHS, DEFAULT_SEED, build_book, market_grid
from models.credit import Loan
from models.registry import DataAsset
from risk.executors import Executor, LocalExecutor
from risk.inputs import RunConfig
from risk.runner import StressRunner
from risk.sensitivities import Bumps, sensitivities
from valuation.errors import ConventionError

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
    from models.products import Securitization, SecuritizationTranche

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
