"""The published quote: mid, bid, ask, lending value, haircut, validity.

Notes
-----
- ``mid``: the reconciled value.
- ``bid`` / ``ask``: ``mid (1 -/+ s)`` with the half-spread
  ``s = clip(0.25 (p95 - p05) / mid, 0.01, 0.25)``: wider for more uncertain values.
- haircut and lending value: `valuation.haircut` (the one definition used by quotes,
  loan quotes, revaluation and stress): ``max(floor, 1 - q(V_H) / V (1 - c))`` over the
  valuation's mixture at the end of the liquidation horizon (default 6 months),
  lending quantile 5 %, liquidation cost 10 %, floor 30 %.
- ``valid_until = as_of + validity_days`` (default 30).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from valuation.conventions import parse_currency
from valuation.errors import ConventionError
from valuation.haircut import (
    DEFAULT_HAIRCUT_FLOOR,
    DEFAULT_LENDING_QUANTILE,
    DEFAULT_LIQUIDATION_COST,
    DEFAULT_LIQUIDATION_HORIZON_MONTHS,
    lending_haircut,
)
from valuation.mixture import Mixture
from valuation.montecarlo import Distribution

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
            raise ConventionError(
                f"The `haircut` of `Quote` must be in [0, 1]. Got {self.haircut!r}."
            )
        if not (0.0 <= self.bid <= self.mid <= self.ask):
            raise ConventionError("A `Quote` must have 0 <= bid <= mid <= ask.")

    def __getitem__(self, key: str) -> Any:
        """Mapping-style access, ``quote["lending_value"]``."""
        if key not in self.as_dict():
            raise KeyError(key)
        return self.as_dict()[key] if key in ("as_of", "valid_until") else getattr(self, key)

    def as_dict(self) -> dict[str, Any]:
        """Return the quote as a plain dict."""
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


def quote_parameters(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the quote parameters with their defaults, checked (each error names the field)."""
    params = dict(params or {})
    unknown = set(params) - set(QUOTE_PARAMETERS)
    if unknown:
        name = sorted(unknown)[0]
        raise ConventionError(
            f"The `{name}` is not a quote parameter ({', '.join(QUOTE_PARAMETERS)}).",
            field=f"assumptions.{name}",
        )
    horizon = _number(
        params, "liquidation_horizon_months", DEFAULT_LIQUIDATION_HORIZON_MONTHS, 0, 120
    )
    if horizon != int(horizon):
        raise ConventionError(
            f"The `liquidation_horizon_months` must be a whole number of months. Got {horizon!r}.",
            field="assumptions.liquidation_horizon_months",
        )
    validity = _number(params, "validity_days", DEFAULT_VALIDITY_DAYS, 1, 366)
    return {
        "liquidation_horizon_months": int(horizon),
        "liquidation_cost": _number(
            params, "liquidation_cost", DEFAULT_LIQUIDATION_COST, 0.0, 0.99
        ),
        "lending_quantile": _number(
            params, "lending_quantile", DEFAULT_LENDING_QUANTILE, 0.001, 0.5
        ),
        "haircut_floor": _number(params, "haircut_floor", DEFAULT_HAIRCUT_FLOOR, 0.0, 1.0),
        "validity_days": int(validity),
    }


def make_quote(
    value: float,
    distribution: Distribution,
    mixture: Mixture,
    *,
    as_of: date,
    currency: str,
    params: Mapping[str, Any] | None = None,
) -> Quote:
    """Build the quote of a valuation (see the module Notes).

    ``mixture`` must have been drawn at the quote's ``liquidation_horizon_months``.
    """
    p = quote_parameters(params)
    mid = max(float(value), 0.0)
    if mid > 0:
        half_spread = float(np.clip(0.25 * (distribution.p95 - distribution.p05) / mid, 0.01, 0.25))
    else:
        half_spread = 0.01
    if mixture.horizon_months != p["liquidation_horizon_months"]:
        raise ConventionError(
            "The mixture's horizon must be the quote's `liquidation_horizon_months` "
            f"({p['liquidation_horizon_months']}). Got {mixture.horizon_months}.",
            field="assumptions.liquidation_horizon_months",
        )
    cut = lending_haircut(
        mid,
        mixture.horizon_quantile(p["lending_quantile"]),
        liquidation_horizon_months=p["liquidation_horizon_months"],
        liquidation_cost=p["liquidation_cost"],
        lending_quantile=p["lending_quantile"],
        floor=p["haircut_floor"],
    )
    return Quote(
        mid=mid,
        bid=mid * (1.0 - half_spread),
        ask=mid * (1.0 + half_spread),
        lending_value=cut.lending_value,
        haircut=cut.haircut,
        currency=currency,
        as_of=as_of,
        valid_until=as_of + timedelta(days=p["validity_days"]),
        half_spread=half_spread,
        parameters={
            **p,
            "horizon_value_quantile": cut.horizon_quantile,
            "horizon_value_ratio_quantile": cut.horizon_quantile / mid if mid > 0 else None,
            "floor_binding": cut.floor_binding,
            "haircut_basis": cut.basis,
        },
    )
