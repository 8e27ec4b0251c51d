"""Risk-based loan pricing, shown part by part.

``rate = funding + expected loss + capital charge + costs``, all annual decimals:

* funding: the bank's funding rate over the loan's life, from its curve
  (`funding_rate_from_discount_factor`) or given;
* expected loss: an annual loss rate. By default ``PD x LGD`` with the one-year PD; a
  loan quote passes the tenor's rate instead (`tenor_expected_loss`: the PD term
  structure of the constant hazard ``h = -ln(1 - PD_1y)`` over the payment periods,
  losses on the balance outstanding at each default date, as a spread on the
  surviving balance);
* capital charge: ``K x (hurdle_rate / (1 - tax_rate) - funding)`` -- capital K per unit
  of exposure must earn the post-tax hurdle rate, so the pre-tax margin is grossed up
  by the tax rate, and being equity it saves the funding rate on that part (the RAROC
  identity); floored at 0;
* costs: operating cost rate (origination, monitoring, data-asset custody).

Capital uses Basel's effective maturity (`effective_maturity`, CRE32.47:
``M = sum_t t CF_t / sum_t CF_t`` over the contractual cash flows, floored at 1 year and
capped at 5).

Defaults: hurdle rate 12 % after tax (a typical bank cost of equity), tax 25 % (PRC
enterprise income tax; 0 reproduces a pre-tax hurdle), costs 0.50 % a year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from valuation.errors import ConventionError

DEFAULT_HURDLE_RATE = 0.12
DEFAULT_COST_RATE = 0.005
DEFAULT_TAX_RATE = 0.25
#: Basel effective maturity bounds, years (CRE32.46-32.47).
M_FLOOR, M_CAP = 1.0, 5.0


def _dec(x: float, name: str, lo: float = -1.0, hi: float = 1.0) -> float:
    if (
        isinstance(x, bool)
        or not isinstance(x, int | float)
        or not math.isfinite(x)
        or not lo <= x <= hi
    ):
        raise ConventionError(
            f"The `{name}` must be a decimal in [{lo}, {hi}]. Got {x!r}.", field=name
        )
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
    tax_rate: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """Return the rate's components as a plain dict (decimals)."""
        return {
            "funding": self.funding,
            "expected_loss": self.expected_loss,
            "capital": self.capital,
            "costs": self.costs,
            "total": self.total,
        }


def effective_maturity(times_years: object, cash_flows: object) -> float:
    """Basel effective maturity ``M = sum t CF / sum CF`` (CRE32.47), floored at 1, capped at 5.

    ``times_years``: time of each contractual payment from the valuation date, years;
    ``cash_flows``: interest plus principal due at each, currency units (non-negative).
    """
    t = np.asarray(times_years, dtype=np.float64)
    cf = np.asarray(cash_flows, dtype=np.float64)
    if (
        t.shape != cf.shape
        or t.ndim != 1
        or t.size == 0
        or not (np.all(np.isfinite(t)) and np.all(np.isfinite(cf)))
    ):
        raise ConventionError(
            "The payment times and cash flows must be finite and of one length.", field="cash_flows"
        )
    if np.any(cf < 0) or cf.sum() <= 0 or np.any(t < 0):
        raise ConventionError(
            "The cash flows must be non-negative with a positive sum, at times >= 0.",
            field="cash_flows",
        )
    return float(min(max(float(t @ cf / cf.sum()), M_FLOOR), M_CAP))


def tenor_expected_loss(
    pd_1y: float, lgd: float, times_years: object, balances: object
) -> tuple[float, float]:
    """``(PD over the tenor, annual EL rate)`` from the constant hazard of ``pd_1y``.

    Survival ``S(t) = (1 - PD_1y) ** t``; period ``k`` (from ``t_{k-1}`` to ``t_k``, with
    ``t_0 = 0``) carries the opening balance ``B_k``. The annual EL rate is the
    break-even spread on the surviving balance,
    ``sum_k (S_{k-1} - S_k) LGD B_k / sum_k S_k B_k (t_k - t_{k-1})``, which is
    ``-ln(1 - PD_1y) x LGD`` (the hazard) for frequent payments and counts only the
    exposure actually outstanding; the PD over the tenor is ``1 - S(t_n)``.
    """
    pd_1y = _dec(pd_1y, "pd", 0.0, 1.0)
    lgd = _dec(lgd, "lgd", 0.0, 1.0)
    t = np.asarray(times_years, dtype=np.float64)
    b = np.asarray(balances, dtype=np.float64)
    if (
        t.ndim != 1
        or t.shape != b.shape
        or t.size == 0
        or np.any(np.diff(np.concatenate([[0.0], t])) <= 0)
    ):
        raise ConventionError(
            "The payment times must increase from 0 with one opening balance each.",
            field="tenor_months",
        )
    if np.any(~np.isfinite(b)) or np.any(b < 0) or b.sum() <= 0:
        raise ConventionError(
            "The balances must be non-negative with a positive sum.", field="principal"
        )
    if pd_1y >= 1.0:
        return 1.0, lgd
    surv = np.power(1.0 - pd_1y, np.concatenate([[0.0], t]))
    dt = np.diff(np.concatenate([[0.0], t]))
    losses = float(((surv[:-1] - surv[1:]) * b).sum()) * lgd
    exposure_years = float((surv[1:] * b * dt).sum())
    return float(1.0 - surv[-1]), (losses / exposure_years if exposure_years > 0 else 0.0)


def funding_rate_from_discount_factor(discount_factor: float, t_years: float) -> float:
    """Annually compounded funding rate over ``t_years`` from the curve's discount factor: ``DF^(-1/t) - 1``."""
    if not (0 < discount_factor <= 10) or not t_years > 0:
        raise ConventionError(
            f"Need a positive discount factor and horizon. Got {discount_factor!r}, {t_years!r}.",
            field="funding",
        )
    return float(discount_factor ** (-1.0 / t_years) - 1.0)


def price_loan(
    pd: float,
    lgd: float,
    capital_k: float,
    funding_rate: float,
    *,
    hurdle_rate: float = DEFAULT_HURDLE_RATE,
    cost_rate: float = DEFAULT_COST_RATE,
    tax_rate: float = 0.0,
    expected_loss_rate: float | None = None,
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
    tax_rate : float
        Tax on the lender's profit, [0, 1): the hurdle is grossed up to ``h / (1 - tax)``.
    expected_loss_rate : float, optional
        Annual EL rate to use instead of ``pd x lgd`` (e.g. `tenor_expected_loss`).

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
    tax = _dec(tax_rate, "tax_rate", 0.0, 0.99)
    el = (
        pd * lgd
        if expected_loss_rate is None
        else _dec(expected_loss_rate, "expected_loss_rate", 0.0, 1.0)
    )
    cap = max(0.0, k * (h / (1.0 - tax) - f))
    return RatePricing(
        funding=f,
        expected_loss=el,
        capital=cap,
        costs=c,
        total=f + el + cap + c,
        hurdle_rate=h,
        tax_rate=tax,
    )
