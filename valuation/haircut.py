"""The one collateral haircut of the project: quotes, loan quotes, revaluation and stress.

Definition (a liquidation-value haircut in the sense of Basel's comprehensive approach,
CRE22: the fall in value over the time needed to sell, plus the cost of selling)::

    haircut = max(floor, 1 - q_alpha(V_H) / V x (1 - c))
    lending_value = V x (1 - haircut)

- ``V``: the reconciled value today;
- ``V_H``: on each path of the same mixture as the value's distribution, the value at
  the end of the liquidation horizon ``H`` (what a buyer would then pay for the cash
  flows still to come), discounted to today;
- ``q_alpha``: the lending quantile (default 5 %);
- ``c``: the liquidation cost, a fraction of proceeds (default 10 %);
- ``floor``: default 30 %, Basel's standardised haircut for "other physical
  collateral" (CRE22.52); data is not eligible collateral under Basel, so the floor is
  a conservative analogue, not a regulatory figure.

With ``H = 0`` and no floor the lending value is ``(1 - c) x q_alpha`` of today's
value distribution; it falls as ``H`` grows. A value of zero gets a haircut of one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from valuation._typing import FloatArray
from valuation.errors import ConventionError

DEFAULT_LIQUIDATION_HORIZON_MONTHS = 6
DEFAULT_LIQUIDATION_COST = 0.10
DEFAULT_LENDING_QUANTILE = 0.05
DEFAULT_HAIRCUT_FLOOR = 0.30
BASIS = (
    "haircut = max(floor, 1 - q(V_H) / V x (1 - liquidation_cost)); V_H from the valuation's "
    "mixture at the end of the liquidation horizon, discounted to today"
)


def _fraction(x: float, name: str, *, hi: float = 1.0) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float | np.floating) or not (0.0 <= x <= hi):
        raise ConventionError(
            f"The `{name}` must be a number in [0, {hi:g}]. Got {x!r}.", field=name
        )
    return float(x)


def haircut_from_quantile(
    value: float | FloatArray,
    horizon_quantile: float | FloatArray,
    *,
    liquidation_cost: float | FloatArray = DEFAULT_LIQUIDATION_COST,
    floor: float = DEFAULT_HAIRCUT_FLOOR,
) -> FloatArray:
    """``clip(max(floor, 1 - q / V (1 - c)), 0, 1)``, elementwise (arrays broadcast).

    ``V <= 0`` gives a haircut of one.
    """
    v = np.asarray(value, dtype=np.float64)
    q = np.asarray(horizon_quantile, dtype=np.float64)
    c = np.asarray(liquidation_cost, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(v > 0.0, np.maximum(q, 0.0) / np.where(v > 0.0, v, 1.0), 0.0)
    h = np.maximum(floor, 1.0 - ratio * (1.0 - c))
    return np.clip(h, 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class Haircut:
    """A haircut and what it rests on (amounts in the value's currency)."""

    haircut: float
    lending_value: float
    value: float
    horizon_quantile: float
    liquidation_horizon_months: int
    liquidation_cost: float
    lending_quantile: float
    floor: float
    floor_binding: bool
    basis: str = BASIS

    def as_dict(self) -> dict[str, object]:
        """Return the haircut and its basis as a plain dict."""
        return {
            "haircut": self.haircut,
            "lending_value": self.lending_value,
            "value": self.value,
            "horizon_value_quantile": self.horizon_quantile,
            "liquidation_horizon_months": self.liquidation_horizon_months,
            "liquidation_cost": self.liquidation_cost,
            "lending_quantile": self.lending_quantile,
            "haircut_floor": self.floor,
            "floor_binding": self.floor_binding,
            "haircut_basis": self.basis,
        }


def lending_haircut(
    value: float,
    horizon_quantile: float,
    *,
    liquidation_horizon_months: int = DEFAULT_LIQUIDATION_HORIZON_MONTHS,
    liquidation_cost: float = DEFAULT_LIQUIDATION_COST,
    lending_quantile: float = DEFAULT_LENDING_QUANTILE,
    floor: float = DEFAULT_HAIRCUT_FLOOR,
) -> Haircut:
    """Return the haircut of one asset from its value and the quantile of its horizon values.

    Parameters
    ----------
    value : float
        Reconciled value today ``V`` (>= 0).
    horizon_quantile : float
        ``q_alpha(V_H)``: the lending quantile of the values at the horizon, discounted
        to today (e.g. `valuation.mixture.Mixture.horizon_quantile`).

    Examples
    --------
    >>> h = lending_haircut(100.0, 60.0, liquidation_cost=0.1, floor=0.0)
    >>> round(h.haircut, 12), round(h.lending_value, 9)
    (0.46, 54.0)
    """
    c = _fraction(liquidation_cost, "liquidation_cost", hi=0.99)
    f = _fraction(floor, "haircut_floor")
    q = _fraction(lending_quantile, "lending_quantile", hi=0.5)
    v = max(float(value), 0.0)
    h = float(haircut_from_quantile(v, horizon_quantile, liquidation_cost=c, floor=f))
    unfloored = float(haircut_from_quantile(v, horizon_quantile, liquidation_cost=c, floor=0.0))
    return Haircut(
        haircut=h,
        lending_value=v * (1.0 - h),
        value=v,
        horizon_quantile=float(horizon_quantile),
        liquidation_horizon_months=int(liquidation_horizon_months),
        liquidation_cost=c,
        lending_quantile=q,
        floor=f,
        floor_binding=f > unfloored,
    )
