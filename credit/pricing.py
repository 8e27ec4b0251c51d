"""Risk-based loan pricing, shown part by part.

``rate = funding + expected loss + capital charge + costs``, all annual decimals:

* funding: the bank's funding rate over the loan's life, from its curve
  (`funding_rate_from_discount_factor`) or given;
* expected loss: ``PD x LGD`` (one-year PD, so an annual loss rate);
* capital charge: ``K x (hurdle_rate - funding)`` -- capital K per unit of exposure
  must earn the hurdle rate, and being equity it saves the funding rate on that part
  (the usual RAROC identity); floored at 0;
* costs: operating cost rate (origination, monitoring, data-asset custody).

Defaults: hurdle rate 12 % (a typical bank cost of equity), costs 0.50 % a year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from valuation.errors import ConventionError

DEFAULT_HURDLE_RATE = 0.12
DEFAULT_COST_RATE = 0.005


def _dec(x: float, name: str, lo: float = -1.0, hi: float = 1.0) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) or not lo <= x <= hi:
        raise ConventionError(f"The `{name}` must be a decimal in [{lo}, {hi}]. Got {x!r}.", field=name)
    return float(x)


@dataclass(frozen=True, slots=True)
class RatePricing:
    """Annual rate parts (decimals): ``total = funding + expected_loss + capital + costs``."""

    funding: float
    expected_loss: float
    capital: float
    costs: float
    total: float
    hurdle_rate: float

    def as_dict(self) -> dict[str, float]:
        return {"funding": self.funding, "expected_loss": self.expected_loss, "capital": self.capital,
                "costs": self.costs, "total": self.total}


def funding_rate_from_discount_factor(discount_factor: float, t_years: float) -> float:
    """Annually compounded funding rate over ``t_years`` from the curve's discount factor: ``DF^(-1/t) - 1``."""
    if not (0 < discount_factor <= 10) or not t_years > 0:
        raise ConventionError(f"Need a positive discount factor and horizon. Got {discount_factor!r}, {t_years!r}.", field="funding")
    return discount_factor ** (-1.0 / t_years) - 1.0


def price_loan(
    pd: float,
    lgd: float,
    capital_k: float,
    funding_rate: float,
    *,
    hurdle_rate: float = DEFAULT_HURDLE_RATE,
    cost_rate: float = DEFAULT_COST_RATE,
) -> RatePricing:
    """Loan rate from funding, EL, capital charge and costs.

    Parameters
    ----------
    pd : float
        One-year PD, decimal in [0, 1).
    lgd : float
        LGD, decimal in [0, 1].
    capital_k : float
        Capital per unit of EAD (e.g. `credit.capital.irb_capital`), in [0, 1].
    funding_rate : float
        Annual funding rate (decimal).
    hurdle_rate : float
        Required return on capital (decimal).
    cost_rate : float
        Operating costs per year as a decimal of the exposure.

    Examples
    --------
    >>> p = price_loan(0.01, 0.4, 0.08, 0.02)
    >>> round(p.total, 6)
    0.037
    """
    pd = _dec(pd, "pd", 0.0, 1.0)
    lgd = _dec(lgd, "lgd", 0.0, 1.0)
    k = _dec(capital_k, "capital_k", 0.0, 1.0)
    f = _dec(funding_rate, "funding_rate")
    h = _dec(hurdle_rate, "hurdle_rate")
    c = _dec(cost_rate, "cost_rate", 0.0, 1.0)
    el = pd * lgd
    cap = max(0.0, k * (h - f))
    return RatePricing(funding=f, expected_loss=el, capital=cap, costs=c, total=f + el + cap + c, hurdle_rate=h)
