"""Data-revenue notes: a claim on a share of a data product's gross monthly revenue.

The note promises, for months ``m = 1..term``, ``clip(share x R_m, floor, cap)`` where
``R_m`` is the product's gross revenue in month ``m`` on a simulated path (the valuation
engine's ``MonteCarloResult.gross_revenue()``, shape ``(n_paths, months)``), ``cap`` and
``floor`` monthly amounts in the revenue's currency (either may be absent). The issuer pays
out of the asset's income cash flow (``available``: the income approach's attributable cash
flow on the same path, ``MonteCarloResult.revenue``), so a month's payment is
``min(promise, available)`` -- limited recourse, as a securitisation of the asset's income.

Issuer default is linked to the revenue path: the issuer defaults in the first month its
revenue falls below ``default_threshold`` times the mean first-month revenue across paths
(a collapse of the business), or earlier at an independent exponential time with annual
intensity ``issuer_hazard`` (0 by default). Payments stop at default and the holder recovers
``recovery_rate`` times the value, at the default month, of the payments still due on that
path.

Discounting: at the same risk-adjusted rate the asset's income approach uses (the
simulation's ``discount_factors``: the curve plus the income approach's risk premium, or its
flat ``discount_rate``), so a note on 100 % of revenue with no cap is worth at most the
asset's income value on every path (the note's cash is never above the income cash flow,
over a term no longer than the economic life). Without them, the given curve.

Price = mean over paths of the present value; ``distribution`` summarises the path values;
``yield_rate`` is the annual rate (monthly compounding) at which the expected *promised*
payments (no issuer default, no shortfall) are worth the price, so it carries the default
premium.
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

#: Largest accepted monthly cap or floor (major units): sums over 600 months stay finite.
MAX_AMOUNT = 1e15


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
    default_threshold : float
        The issuer defaults in the first month its revenue is below this fraction of the
        mean first-month revenue, [0, 1]; 0: no revenue-linked default.
    """

    share: float
    term_months: int
    cap: float | None = None
    floor: float | None = None
    issuer_hazard: float = 0.0
    recovery_rate: float = 0.4
    default_threshold: float = 0.0

    def __post_init__(self) -> None:
        def bad(name: str, rule: str, value: object) -> ConventionError:
            return ConventionError(
                f"The `{name}` of `DataRevenueNote` must be {rule}. Got {value!r}.", field=name
            )

        if not isinstance(self.share, int | float) or not 0.0 < self.share <= 1.0:
            raise bad("share", "a decimal in (0, 1]", self.share)
        if (
            isinstance(self.term_months, bool)
            or not isinstance(self.term_months, int)
            or not 1 <= self.term_months <= 600
        ):
            raise bad("term_months", "an integer in [1, 600]", self.term_months)
        for name in ("cap", "floor"):
            v = getattr(self, name)
            if v is not None and (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not math.isfinite(v)
                or not 0.0 <= v <= MAX_AMOUNT
            ):
                raise bad(name, f"a monthly amount in [0, {MAX_AMOUNT:g}] or null", v)
        if self.cap is not None and self.floor is not None and self.floor > self.cap:
            raise bad("floor", f"at most the cap ({self.cap})", self.floor)
        h = self.issuer_hazard
        if not isinstance(h, int | float) or not math.isfinite(h) or not 0.0 <= h <= 10.0:
            raise bad("issuer_hazard", "an annual intensity in [0, 10]", h)
        if not isinstance(self.recovery_rate, int | float) or not 0.0 <= self.recovery_rate <= 1.0:
            raise bad("recovery_rate", "a decimal in [0, 1]", self.recovery_rate)
        t = self.default_threshold
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0.0 <= t <= 1.0:
            raise bad("default_threshold", "a fraction in [0, 1]", t)

    def payments(self, revenue: FloatArray) -> FloatArray:
        """Promised monthly payments per path, ``(n_paths, term_months)``."""
        r = np.asarray(revenue, dtype=np.float64)
        if r.ndim != 2 or r.shape[1] < self.term_months:
            raise ConventionError(
                f"The `revenue` paths must be (n_paths, months) with at least term_months="
                f"{self.term_months} months. Got shape {r.shape}.",
                field="revenue",
            )
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
    default_probability: float = 0.0  # issuer default within the term (closed form for the
    # hazard alone; the paths' frequency once the revenue threshold applies)
    seed: int = 0
    n_paths: int = 0


def price_data_note(
    note: DataRevenueNote,
    revenue: FloatArray,
    *,
    market: MarketData,
    seed: int,
    available: FloatArray | None = None,
    discount_factors: FloatArray | None = None,
) -> NoteResult:
    """Price a data-revenue note on revenue paths.

    Parameters
    ----------
    note : DataRevenueNote
    revenue : FloatArray
        Monthly gross revenue paths ``(n_paths, months)``, month 1 paid one month after
        ``market.as_of``.
    market : MarketData
        Discount curve, anchored at the note's start (used without ``discount_factors``).
    seed : int
        Seed of the ``numpy.random.Generator`` drawing the issuer default times (recorded).
    available : FloatArray, optional
        The asset's income cash flow per path and month (same shape as ``revenue``): the
        most the issuer can pay; None: no limit.
    discount_factors : FloatArray, optional
        Discount factor of each month (at least ``term_months``): the asset's income
        approach's risk-adjusted factors; None: ``market``'s curve.

    Returns
    -------
    NoteResult

    Notes
    -----
    Path value ``V_p = sum_{m < d_p} DF_m c_{p,m} + 1{d_p <= T} R sum_{m >= d_p} DF_m c_{p,m}``
    with ``c = min(promise, available)`` and ``d_p`` the first month of a revenue-linked
    default or ``ceil(12 tau_p)``, ``tau_p ~ Exp(issuer_hazard)`` (compared in floating point,
    so any hazard down to the smallest positive one is safe).

    Examples
    --------
    >>> from datetime import date
    >>> from valuation.market import default_curve
    >>> rev = np.full((4, 12), 1000.0)
    >>> note = DataRevenueNote(share=0.1, term_months=12)
    >>> res = price_data_note(note, rev, market=default_curve(date(2025, 1, 1), "CNY", 0.0), seed=1)
    >>> round(res.price, 6)
    1200.0
    """
    promised = note.payments(revenue)
    n, t_max = promised.shape
    pay = promised
    if available is not None:
        a = np.asarray(available, dtype=np.float64)
        if a.shape[0] != n or a.ndim != 2 or a.shape[1] < t_max:
            raise ConventionError(
                f"The `available` cash flows must have the revenue's shape. Got {a.shape}.",
                field="available",
            )
        pay = np.minimum(promised, np.maximum(a[:, :t_max], 0.0))
    if discount_factors is not None:
        df = np.asarray(discount_factors, dtype=np.float64)[:t_max]
        if df.shape != (t_max,) or not np.all(np.isfinite(df)) or np.any(df <= 0.0):
            raise ConventionError(
                f"The `discount_factors` must give {t_max} positive factors.",
                field="discount_factors",
            )
    else:
        dates = [add_months(market.as_of, m) for m in range(1, t_max + 1)]
        df = market.discount_factors(dates)
    rng = np.random.default_rng(seed)
    d = np.full(n, t_max + 1, dtype=np.int64)
    if note.issuer_hazard > 0.0:
        e = np.asarray(
            rng.standard_exponential(n), dtype=np.float64
        )  # tau = e / h; default month ceil(12 tau) if <= T
        hit = e <= note.issuer_hazard * t_max / 12.0
        d[hit] = np.clip(np.ceil(12.0 * e[hit] / note.issuer_hazard), 1, t_max).astype(np.int64)
    if note.default_threshold > 0.0:
        r = np.maximum(np.asarray(revenue, dtype=np.float64)[:, :t_max], 0.0)
        level = note.default_threshold * float(r[:, 0].mean())
        below = r < level
        first = np.where(below.any(axis=1), np.argmax(below, axis=1) + 1, t_max + 1)
        d = np.minimum(d, first)
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
    distribution = {
        "mean": price,
        "std": float(values.std(ddof=1)) if n > 1 else 0.0,
        "p05": float(q[0]),
        "p50": float(q[1]),
        "p95": float(q[2]),
    }
    expected = promised.mean(axis=0)
    return NoteResult(
        price=price,
        std_error=std_error,
        distribution=distribution,
        yield_rate=_yield(expected, price),
        expected_payments=expected,
        default_probability=(
            float(defaulted.mean())
            if note.default_threshold > 0.0
            else float(-math.expm1(-note.issuer_hazard * t_max / 12.0))
        ),
        seed=int(seed),
        n_paths=int(n),
    )


def _yield(cash: FloatArray, price: float) -> float:
    """Annual rate, monthly compounding, with ``sum_m cash_m (1 + y/12)^-m = price``."""
    if price <= 0.0 or cash.sum() <= 0.0:
        return float("nan")
    m = np.arange(1, cash.size + 1)

    def f(y: float) -> float:
        # (1 + y/12)^-m in log space, the exponent clipped: no overflow at deep negative yields
        return float(cash @ np.exp(np.minimum(-m * math.log1p(y / 12.0), 300.0))) - price

    lo, hi = -0.99 * 12.0 + 1e-6, 50.0
    f_lo, f_hi = f(lo), f(hi)
    if not (f_lo > 0.0 > f_hi):  # signs compared, not their product (it can underflow)
        return float("nan")
    try:
        return float(brentq(f, lo, hi, xtol=1e-12))
    except (ValueError, RuntimeError):  # pragma: no cover - a bracket that degenerates
        return float("nan")
