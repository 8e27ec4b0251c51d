"""A tenant's stress book from the database, and the risk-free grid it is stressed on.

`build_book` reads the tenant's live loans and pledges, its securitizations and the assets
they hold (filtered in SQL), puts each asset on the valuation engine's own simulated paths
(its premium calibrated to the reconciled value; the parametric revenue model of
`risk.adapters` when that is not possible) and hands the records to
`risk.booking.assemble_book`, which builds the book and says what it left out.
`market_grid` is the currency's default risk-free curve (`valuation.market`).
"""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, col, select

from api.clock import today
from models import credit as credit_models
from models import products as products_models
from models.credit import Loan
from models.db import row_id
from models.registry import DataAsset, Signal
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
from risk.inputs import MarketGrid
from valuation.conventions import parse_currency
from valuation.errors import ConventionError, ValuationError
from valuation.forecast import half_life_from_profile
from valuation.market import DEFAULT_MARKET_DATA, default_curve

#: Months of the stress grid: the longest economic life, loan and tranche maturity covered.
GRID_MONTHS = 120
#: Default Monte Carlo paths and seed of a service run (recorded with each run).
DEFAULT_PATHS = 256
DEFAULT_SEED = 20_260_101


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
