"""Data-revenue notes on a registered asset: its simulated revenue paths and the note's price.

The asset is valued the one way every caller values a registered asset
(`api.services.valuation.load_inputs` then `run_valuation`); the note pays a share of the
simulated gross revenue out of the income cash flow and is discounted as the income
approach discounts (`products.notes.price_data_note`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from sqlmodel import Session

from api.clock import today
from api.errors import InvalidInputError
from api.schemas.products import DataNotePriceRequest, DataNotePriceResult
from api.services.products import as_invalid, discount_rate_for, finite_or_none
from api.services.valuation import load_inputs, run_valuation
from products.notes import DataRevenueNote, price_data_note
from valuation.errors import ValuationError
from valuation.market import default_curve


def asset_revenue_paths(
    session: Session,
    asset_id: int,
    *,
    as_of: date,
    currency: str,
    discount_rate: float | None,
    paths: int,
    seed: int,
) -> dict[str, Any]:
    """Simulated monthly paths of a registered asset from the valuation engine's Monte Carlo
    on its stored signals, costs and comparables: ``gross`` revenue and the ``income`` cash
    flow (the income approach's attributable cash), ``(paths, months)``; the income
    approach's risk-adjusted ``discount_factors``; the asset's ``income_value`` on these paths
    (mean of the path values) and the discounting ``basis``."""
    inputs = load_inputs(session, asset_id)  # NotFoundError -> 404
    session.commit()  # inputs read: no transaction is held while the paths are simulated
    valuation, _market = run_valuation(
        inputs,
        as_of=as_of,
        currency=currency,
        paths=paths,
        seed=seed,
        weights=None,
        assumptions=None,
        risk_free_rate=discount_rate_for(discount_rate, currency),
    )
    sim = valuation.simulation
    assert sim is not None
    income = valuation.methods["income"].assumptions if "income" in valuation.methods else {}
    return {
        "gross": np.asarray(sim.gross_revenue(), dtype=np.float64),
        "income": np.asarray(sim.revenue, dtype=np.float64),
        "discount_factors": np.asarray(sim.discount_factors, dtype=np.float64),
        "income_value": float(sim.values.mean()),
        "basis": str(income.get("discounting", "the income approach's discount factors")),
    }


def price_data_note_for(session: Session, req: DataNotePriceRequest) -> DataNotePriceResult:
    """Price a note on a share of a registered data product's gross revenue, paid out of its
    income cash flow, discounted as its income approach discounts."""
    as_of = req.as_of or today()
    try:
        note = DataRevenueNote(
            share=req.share,
            term_months=req.term_months,
            cap=req.cap,
            floor=req.floor,
            issuer_hazard=req.issuer_hazard,
            recovery_rate=req.recovery_rate,
            default_threshold=req.default_threshold,
        )
        sim = asset_revenue_paths(
            session,
            req.asset_id,
            as_of=as_of,
            currency=req.currency,
            discount_rate=req.discount_rate,
            paths=req.paths,
            seed=req.seed,
        )
        months = sim["gross"].shape[1]
        if months < note.term_months:
            raise InvalidInputError(
                f"The `term_months` must be at most the {months} months the valuation "
                f"simulates. Got {note.term_months}.",
                field="term_months",
            )
        res = price_data_note(
            note,
            sim["gross"],
            market=default_curve(
                as_of, req.currency, discount_rate_for(req.discount_rate, req.currency)
            ),
            seed=req.seed,
            available=sim["income"],
            discount_factors=sim["discount_factors"],
        )
    except ValuationError as exc:
        raise as_invalid(exc) from None
    return DataNotePriceResult(
        asset_id=req.asset_id,
        currency=req.currency,
        price=res.price,
        std_error=res.std_error,
        distribution=res.distribution,
        yield_rate=finite_or_none(res.yield_rate),
        default_probability=res.default_probability,
        paths=res.n_paths,
        seed=res.seed,
        as_of=as_of,
        income_value=sim["income_value"],
        basis=(
            f"share of gross revenue (cap/floor on it), paid out of the asset's income cash "
            f"flow; discounted as the income approach: {sim['basis']}; issuer default when "
            f"revenue falls below {req.default_threshold:.0%} of the first month's mean"
            + (f" or at hazard {req.issuer_hazard:g}/yr" if req.issuer_hazard > 0 else "")
        ),
    )
