"""Build book positions from the layers below: valuation results or revenue histories.

* `asset_from_simulation`: take `valuation`'s Monte Carlo paths (``AssetValuation.simulation``,
  a ``MonteCarloResult`` with ``revenue`` (n_paths, months) and ``values``) as the asset's
  cash-flow paths, and solve for the one risk premium over the risk-free grid that makes
  the runner's base value equal the valuation's mean value, so that stress figures start
  from the published valuation.
* `asset_from_revenue`: when no simulation is at hand, estimate a log-linear trend and
  residual volatility from a monthly revenue history (the log-linear trend of DESIGN.md's
  forecast) and use the parametric model of `risk.book.AssetPosition`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import brentq

from risk.book import DEFAULT_LIQUIDATION_COST, AssetPosition
from risk.inputs import MarketGrid
from valuation._typing import FloatArray
from valuation.errors import ConventionError, InsufficientDataError


def implied_risk_premium(revenue_paths: FloatArray, target_value: float, grid: MarketGrid) -> float:
    """Continuous premium ``p`` with ``mean_paths(sum_k R_k DF_k exp(-p t_k)) = target_value``.

    Raises
    ------
    CalibrationError
        When no premium in (-0.5, 1) reproduces the target.
    """
    from valuation.errors import CalibrationError

    r = np.asarray(revenue_paths, dtype=np.float64)
    m = min(r.shape[1], grid.months)
    mean_cf = r[:, :m].mean(axis=0)
    t, df = grid.times_years[:m], grid.discount_factors[:m]

    def f(p: float) -> float:
        return float(np.dot(mean_cf, df * np.exp(-p * t))) - target_value

    if target_value <= 0 or f(-0.5) < 0 or f(0.999) > 0:
        raise CalibrationError(
            f"No risk premium in (-0.5, 1) reproduces the value {target_value!r} from the "
            "simulated cash flows.",
            field="risk_premium",
        )
    return float(brentq(f, -0.5, 0.999, xtol=1e-14, rtol=1e-14))


def asset_from_simulation(
    *,
    asset_id: str,
    category: str,
    currency: str,
    simulation: Any,
    grid: MarketGrid,
    cross_border: bool,
    half_life_months: float = math.inf,
    liquidation_cost: float = DEFAULT_LIQUIDATION_COST,
    target_value: float | None = None,
) -> AssetPosition:
    """Return an `AssetPosition` on the valuation's simulated cash-flow paths.

    Parameters
    ----------
    simulation : valuation MonteCarloResult
        Uses ``revenue`` (n_paths, months) and ``values`` (n_paths,).
    grid : MarketGrid
        The risk-free grid of the stress run.
    target_value : float, optional
        Value to reproduce (default: the mean of ``simulation.values``).
    """
    paths = np.asarray(simulation.revenue, dtype=np.float64)
    target = float(np.mean(simulation.values)) if target_value is None else float(target_value)
    premium = implied_risk_premium(paths, target, grid)
    return AssetPosition(
        id=asset_id,
        category=category,
        currency=currency,
        revenue_0=float(paths[:, 0].mean()),
        half_life_months=half_life_months,
        economic_life_months=min(paths.shape[1], grid.months),
        risk_premium=premium,
        cross_border=cross_border,
        liquidation_cost=liquidation_cost,
        revenue_paths=paths,
    )


def asset_from_revenue(
    *,
    asset_id: str,
    category: str,
    currency: str,
    revenue: FloatArray,
    cross_border: bool,
    cash_share: float = 0.5,
    half_life_months: float = 36.0,
    economic_life_months: int = 60,
    risk_premium: float = 0.08,
    obsolescence_hazard: float = 0.02,
    liquidation_cost: float = DEFAULT_LIQUIDATION_COST,
) -> AssetPosition:
    """Return a parametric `AssetPosition` from a monthly revenue history (oldest first).

    Fit: ``ln R_t = a + b t + e_t`` by least squares on the positive months;
    ``growth_rate = 12 b`` (capped to [-0.5, 0.5]), ``volatility = sqrt(12) std(e)``
    (capped to [0.05, 1.5]); ``revenue_0 = cash_share * exp(a + b t_last)``.

    Parameters
    ----------
    revenue : array (n_months,)
        Monthly revenue, major units; at least 6 positive months.
    cash_share : float
        Part of revenue that is the asset's attributable cash flow (revenue share times one
        minus the cost ratio), decimal in (0, 1]. Default 0.5, an assumption used only when
        no valuation simulation is available (which carries the asset's own share and costs).
    """
    r = np.asarray(revenue, dtype=np.float64)
    mask = np.isfinite(r) & (r > 0)
    if mask.sum() < 6:
        raise InsufficientDataError(
            f"The `revenue` of asset {asset_id!r} must have at least 6 positive months for the "
            f"stress model. Got {int(mask.sum())}.",
            field="signals",
        )
    if not 0 < cash_share <= 1:
        raise ConventionError(
            f"The `cash_share` must be in (0, 1]. Got {cash_share!r}.", field="cash_share"
        )
    t = np.arange(r.size, dtype=np.float64)[mask]
    y = np.log(r[mask])
    b, a = np.polyfit(t, y, 1)
    resid = y - (a + b * t)
    growth = float(np.clip(12.0 * b, -0.5, 0.5))
    vol = float(np.clip(math.sqrt(12.0) * resid.std(ddof=2 if resid.size > 2 else 0), 0.05, 1.5))
    level = float(np.exp(a + b * (r.size - 1)))
    return AssetPosition(
        id=asset_id,
        category=category,
        currency=currency,
        revenue_0=cash_share * level,
        growth_rate=growth,
        volatility=vol,
        obsolescence_hazard=obsolescence_hazard,
        half_life_months=half_life_months,
        economic_life_months=economic_life_months,
        risk_premium=risk_premium,
        cross_border=cross_border,
        liquidation_cost=liquidation_cost,
    )
