"""The published quote: mid, bid, ask, lending value, haircut, validity.

Notes
-----
- ``mid``: the reconciled value.
- ``bid`` / ``ask``: ``mid (1 -/+ s)`` with the half-spread
  ``s = clip(0.25 (p95 - p05) / mid, 0.01, 0.25)``: wider for more uncertain values.
- haircut: with simulated paths, the market part is one minus the ``lending_quantile``
  (default 5 %) of ``V_T / V_0`` over the liquidation horizon ``T`` (default 6 months;
  ``V_T`` the value at ``T`` of the cash flows still to come, ``V_0`` the mean value at
  ``as_of``), then the liquidation cost (default 10 % of proceeds):
  ``H = 1 - min(q(V_T / V_0), 1) (1 - liquidation_cost)``, floored at ``haircut_floor``
  (default 30 %: Basel's standardised haircut floor for "other collateral", which
  data assets would at best be). Without paths (no income approach) the haircut is
  ``1 - (1 - haircut_floor)(1 - liquidation_cost)``.
- ``lending_value = mid (1 - H)``; ``valid_until = as_of + validity_days`` (default 30).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from valuation.conventions import parse_currency
from valuation.errors import ConventionError
from valuation.montecarlo import Distribution, MonteCarloResult

DEFAULT_LIQUIDATION_HORIZON_MONTHS = 6
DEFAULT_LIQUIDATION_COST = 0.10
DEFAULT_LENDING_QUANTILE = 0.05
DEFAULT_HAIRCUT_FLOOR = 0.30
DEFAULT_VALIDITY_DAYS = 30
QUOTE_PARAMETERS = (
    "liquidation_horizon_months",
    "liquidation_cost",
    "lending_quantile",
    "haircut_floor",
    "validity_days",
)


@dataclass(frozen=True, slots=True)
class Quote:
    """A published quote; amounts in major units of ``currency``, rates as decimals."""

    mid: float
    bid: float
    ask: float
    lending_value: float
    haircut: float
    currency: str
    as_of: date
    valid_until: date
    half_spread: float
    parameters: Mapping[str, Any]

    def __post_init__(self) -> None:
        parse_currency(self.currency)
        if not (0.0 <= self.haircut <= 1.0):
            raise ConventionError(f"The `haircut` of `Quote` must be in [0, 1]. Got {self.haircut!r}.")
        if not (0.0 <= self.bid <= self.mid <= self.ask):
            raise ConventionError("A `Quote` must have 0 <= bid <= mid <= ask.")

    def __getitem__(self, key: str) -> Any:
        """Mapping-style access, ``quote["lending_value"]``."""
        if key not in self.as_dict():
            raise KeyError(key)
        return self.as_dict()[key] if key in ("as_of", "valid_until") else getattr(self, key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mid": self.mid,
            "bid": self.bid,
            "ask": self.ask,
            "lending_value": self.lending_value,
            "haircut": self.haircut,
            "currency": self.currency,
            "as_of": self.as_of.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "half_spread": self.half_spread,
            "parameters": dict(self.parameters),
        }


def _number(params: Mapping[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    v = params.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not (lo <= v <= hi):
        raise ConventionError(
            f"The `{name}` of `Quote` must be a number in [{lo:g}, {hi:g}]. Got {v!r}.",
            field=f"assumptions.{name}",
        )
    return float(v)


def make_quote(
    value: float,
    distribution: Distribution,
    simulation: MonteCarloResult | None,
    *,
    as_of: date,
    currency: str,
    params: Mapping[str, Any] | None = None,
) -> Quote:
    """Build the quote of a valuation (see the module Notes)."""
    params = dict(params or {})
    unknown = set(params) - set(QUOTE_PARAMETERS)
    if unknown:
        name = sorted(unknown)[0]
        raise ConventionError(
            f"The `{name}` is not a quote parameter ({', '.join(QUOTE_PARAMETERS)}).",
            field=f"assumptions.{name}",
        )
    horizon = int(_number(params, "liquidation_horizon_months", DEFAULT_LIQUIDATION_HORIZON_MONTHS, 0, 120))
    cost = _number(params, "liquidation_cost", DEFAULT_LIQUIDATION_COST, 0.0, 0.99)
    q = _number(params, "lending_quantile", DEFAULT_LENDING_QUANTILE, 0.001, 0.5)
    floor = _number(params, "haircut_floor", DEFAULT_HAIRCUT_FLOOR, 0.0, 1.0)
    validity = int(_number(params, "validity_days", DEFAULT_VALIDITY_DAYS, 1, 366))
    mid = max(float(value), 0.0)
    if mid > 0:
        half_spread = float(np.clip(0.25 * (distribution.p95 - distribution.p05) / mid, 0.01, 0.25))
    else:
        half_spread = 0.01
    ratio_q: float | None = None
    v0 = float(simulation.values.mean()) if simulation is not None else 0.0
    if simulation is not None and v0 > 0:
        ratio_q = float(np.quantile(simulation.horizon_value(horizon), q) / v0)
        market_haircut = 1.0 - min(ratio_q, 1.0) * (1.0 - cost)
        haircut = max(market_haircut, floor)
        basis = "simulated value quantile over the liquidation horizon"
    else:
        haircut = 1.0 - (1.0 - floor) * (1.0 - cost)
        basis = "floor and liquidation cost (no simulated paths)"
    haircut = min(max(haircut, 0.0), 1.0)
    return Quote(
        mid=mid,
        bid=mid * (1.0 - half_spread),
        ask=mid * (1.0 + half_spread),
        lending_value=mid * (1.0 - haircut),
        haircut=haircut,
        currency=currency,
        as_of=as_of,
        valid_until=as_of + timedelta(days=validity),
        half_spread=half_spread,
        parameters={
            "liquidation_horizon_months": horizon,
            "liquidation_cost": cost,
            "lending_quantile": q,
            "haircut_floor": floor,
            "validity_days": validity,
            "horizon_value_ratio_quantile": ratio_q,
            "haircut_basis": basis,
        },
    )
