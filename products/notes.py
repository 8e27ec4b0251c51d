"""Data-revenue notes: a claim on a share of a data product's monthly revenue.

The note pays, for months ``m = 1..term``, ``clip(share x R_m, floor, cap)`` where ``R_m``
is the product's revenue in month ``m`` on a simulated path (the valuation engine's
``MonteCarloResult.revenue``, shape ``(n_paths, months)``), ``cap`` and ``floor`` monthly
amounts in the revenue's currency (either may be absent). The issuer defaults at an
exponential time with annual intensity ``issuer_hazard`` (drawn per path, independently of
revenue); payments stop at default and the holder recovers ``recovery_rate`` times the
value, at the default month, of the payments still due on that path.

Price = mean over paths of the present value on the curve (`valuation.market.MarketData`);
``distribution`` summarises the path values; ``yield_rate`` is the annual rate (monthly
compounding) at which the expected *promised* payments (no issuer default) are worth the
price, so it carries the default premium.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from valuation._typing import FloatArray
from valuation.conventions import add_months
from valuation.errors import ConventionError
from valuation.market import MarketData


@dataclass(frozen=True, slots=True)
class DataRevenueNote:
    """Terms of a data-revenue note.

    Parameters
    ----------
    share : float
        Share of monthly revenue paid to the holder, decimal in (0, 1].
    term_months : int
        Number of monthly payments, 1..600.
    cap, floor : float or None
        Monthly payment cap and floor (major units, floor <= cap), optional.
    issuer_hazard : float
        Issuer default intensity per year (>= 0); ``1 - exp(-hazard)`` is the annual PD.
    recovery_rate : float
        Recovered share of the remaining payments' value on issuer default, 0..1.
    """

    share: float
    term_months: int
    cap: float | None = None
    floor: float | None = None
    issuer_hazard: float = 0.0
    recovery_rate: float = 0.4

    def __post_init__(self) -> None:
        def bad(name: str, rule: str, value: object) -> ConventionError:
            return ConventionError(f"The `{name}` of `DataRevenueNote` must be {rule}. Got {value!r}.",
                                   field=name)

        if not isinstance(self.share, int | float) or not 0.0 < self.share <= 1.0:
            raise bad("share", "a decimal in (0, 1]", self.share)
        if isinstance(self.term_months, bool) or not isinstance(self.term_months, int) \
                or not 1 <= self.term_months <= 600:
            raise bad("term_months", "an integer in [1, 600]", self.term_months)
        for name in ("cap", "floor"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int | float) or not math.isfinite(v) or v < 0.0):
                raise bad(name, "a non-negative monthly amount or null", v)
        if self.cap is not None and self.floor is not None and self.floor > self.cap:
            raise bad("floor", f"at most the cap ({self.cap})", self.floor)
        h = self.issuer_hazard
        if not isinstance(h, int | float) or not math.isfinite(h) or not 0.0 <= h <= 10.0:
            raise bad("issuer_hazard", "an annual intensity in [0, 10]", h)
        if not isinstance(self.recovery_rate, int | float) or not 0.0 <= self.recovery_rate <= 1.0:
            raise bad("recovery_rate", "a decimal in [0, 1]", self.recovery_rate)

    def payments(self, revenue: FloatArray) -> FloatArray:
        """Promised monthly payments per path, ``(n_paths, term_months)``."""
        r = np.asarray(revenue, dtype=np.float64)
        if r.ndim != 2 or r.shape[1] < self.term_months:
            raise ConventionError(
                f"The `revenue` paths must be (n_paths, months) with at least term_months="
                f"{self.term_months} months. Got shape {r.shape}.", field="revenue")
        pay = self.share * np.maximum(r[:, : self.term_months], 0.0)
        if self.cap is not None:
            pay = np.minimum(pay, self.cap)
        if self.floor is not None:
            pay = np.maximum(pay, self.floor)
        return pay


@dataclass(frozen=True, slots=True)
class NoteResult:
    """Price (present value, major units), distribution of path values, yield, seed."""

    price: float
    std_error: float
    distribution: dict[str, float]
    yield_rate: float
    expected_payments: FloatArray = field(repr=False)  # (term_months,) promised, mean over paths
    default_probability: float = 0.0  # issuer default within the term
    seed: int = 0
    n_paths: int = 0


def price_data_note(note: DataRevenueNote, revenue: FloatArray, *, market: MarketData,
                    seed: int) -> NoteResult:
    """Price a data-revenue note on revenue paths.

    Parameters
    ----------
    note : DataRevenueNote
    revenue : FloatArray
        Monthly revenue paths ``(n_paths, months)``, month 1 paid one month after
        ``market.as_of``.
    market : MarketData
        Discount curve (risk-free plus any premium), anchored at the note's start.
    seed : int
        Seed of the ``numpy.random.Generator`` drawing the issuer default times (recorded).

    Returns
    -------
    NoteResult

    Notes
    -----
    Path value ``V_p = sum_{m < d_p} DF_m c_{p,m} + 1{d_p <= T} R sum_{m >= d_p} DF_m c_{p,m}``
    with ``d_p = ceil(12 tau_p)``, ``tau_p ~ Exp(issuer_hazard)``.

    Examples
    --------
    >>> from datetime import date
    >>> from products.tranches import default_market
    >>> rev = np.full((4, 12), 1000.0)
    >>> note = DataRevenueNote(share=0.1, term_months=12)
    >>> res = price_data_note(note, rev, market=default_market(date(2025, 1, 1), 0.0), seed=1)
    >>> round(res.price, 6)
    1200.0
    """
    pay = note.payments(revenue)
    n, t_max = pay.shape
    dates = [add_months(market.as_of, m) for m in range(1, t_max + 1)]
    df = market.discount_factors(dates)
    rng = np.random.default_rng(seed)
    if note.issuer_hazard > 0.0:
        tau = rng.exponential(1.0 / note.issuer_hazard, size=n)
        d = np.ceil(tau * 12.0).astype(np.int64)  # default month (1-based)
    else:
        d = np.full(n, t_max + 1, dtype=np.int64)
    pv_flows = pay * df[None, :]
    months = np.arange(1, t_max + 1)
    alive = months[None, :] < d[:, None]
    tail = np.cumsum(pv_flows[:, ::-1], axis=1)[:, ::-1]  # value at 0 of months >= m
    defaulted = d <= t_max
    rec = np.zeros(n)
    idx = np.clip(d - 1, 0, t_max - 1)
    rec[defaulted] = note.recovery_rate * tail[defaulted, idx[defaulted]]
    values = (pv_flows * alive).sum(axis=1) + rec
    price = float(values.mean())
    std_error = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    q = np.quantile(values, [0.05, 0.5, 0.95])
    distribution = {"mean": price, "std": float(values.std(ddof=1)) if n > 1 else 0.0,
                    "p05": float(q[0]), "p50": float(q[1]), "p95": float(q[2])}
    expected = pay.mean(axis=0)
    return NoteResult(price=price, std_error=std_error, distribution=distribution,
                      yield_rate=_yield(expected, price), expected_payments=expected,
                      default_probability=float(-math.expm1(-note.issuer_hazard * t_max / 12.0)),
                      seed=int(seed), n_paths=int(n))


def _yield(cash: FloatArray, price: float) -> float:
    """Annual rate, monthly compounding, with ``sum_m cash_m (1 + y/12)^-m = price``."""
    if price <= 0.0 or cash.sum() <= 0.0:
        return float("nan")
    m = np.arange(1, cash.size + 1)

    def f(y: float) -> float:
        return float(cash @ (1.0 + y / 12.0) ** -m) - price

    lo, hi = -0.99 * 12.0 + 1e-6, 50.0
    if f(lo) * f(hi) > 0.0:
        return float("nan")
    return float(brentq(f, lo, hi, xtol=1e-12))

