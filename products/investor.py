"""What a tranche's investor receives and what it is worth to them, per scenario and class.

The investor's cash and principal loss from the waterfall, a guarantee wrap applied
(`investor_cashflows`), the probability of an ultimate loss, and the pricing measures of
`products.tranches`: yield (annual, monthly compounding) and modified duration of a cash
flow, the curve's par rate, the default discount margin of a class and the margin solved
from a market price. Conventions are stated in `products.tranches`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date

import numpy as np
from scipy.optimize import brentq

from products.recursion import hazard_rates
from products.scenarios import LOSS_EPS
from products.structure import Deal, Tranche
from products.waterfall import WaterfallResult
from valuation._typing import FloatArray
from valuation.conventions import add_months
from valuation.errors import ConventionError


def payment_dates(as_of: date, n_periods: int) -> list[date]:
    """Return the payment dates of months ``1..n_periods`` after ``as_of``."""
    return [add_months(as_of, m) for m in range(1, n_periods + 1)]


def guarantee_factor(tr: Tranche, times: FloatArray) -> FloatArray | None:
    """Share of the guaranteed claims the investor receives per month (survival + recovery)."""
    g = tr.guarantee
    if g is None:
        return None
    h = float(hazard_rates(np.array([g.guarantor_pd]))[0])
    surv = np.exp(-h * times)
    return surv + g.guarantor_recovery * (1.0 - surv)


def investor_cashflows(
    deal: Deal, wf: WaterfallResult, times: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Investor cash and principal loss per scenario, tranche and month, guarantees applied.

    The most junior class, when flagged ``equity``, also receives the residual cash. PDL
    cures (written-down principal reimbursed from excess spread) are investor cash, and the
    principal loss is the write-downs net of them.
    With a wrap, the investor receives the scheduled coupon, principal and write-downs
    while the guarantor survives (``G = due + written down - paid``, recoveries after the
    guarantor defaults); catch-up interest then goes to the guarantor.
    """
    cash = wf.interest_paid + wf.principal_paid + wf.pdl_cure
    if deal.tranches[-1].equity:
        cash[:, -1, :] += wf.residual
    loss = wf.writedown - wf.pdl_cure  # write-downs net of the PDL reimbursed later
    for k, tr in enumerate(deal.tranches):
        f = guarantee_factor(tr, times)
        if f is None:
            continue
        g = wf.interest_due[:, k, :] + wf.writedown[:, k, :] - wf.interest_paid[:, k, :]
        cash[:, k, :] += g * f - wf.pdl_cure[:, k, :] * f  # cures reimburse the guarantor
        loss[:, k, :] *= 1.0 - f
    return cash, loss


def loss_probability(
    deal: Deal, wf: WaterfallResult, times: FloatArray, faces: FloatArray
) -> FloatArray:
    """Per scenario and tranche, the probability that the investor loses (n, K).

    Unwrapped: 1 when the class ends with principal written down and not reimbursed, or
    interest still unpaid, above `LOSS_EPS` of the face (a coupon paid late counts in the
    PV expected loss, not here). Wrapped: the guarantor must have defaulted by the last
    write-down month, ``1 - S_g(t_last)`` (guarantor independent of the pool).
    """
    lost = wf.writedown.sum(axis=2) - wf.pdl_cure.sum(axis=2) + wf.interest_shortfall[:, :, -1]
    out = (lost > LOSS_EPS * faces[None, :]).astype(np.float64)
    hit = wf.writedown > LOSS_EPS * faces[None, :, None]
    for k, tr in enumerate(deal.tranches):
        if tr.guarantee is None:
            continue
        h = float(hazard_rates(np.array([tr.guarantee.guarantor_pd]))[0])
        last = np.where(
            hit[:, k, :].any(axis=1), hit.shape[2] - 1 - np.argmax(hit[:, k, ::-1], axis=1), 0
        )
        out[:, k] = hit[:, k, :].any(axis=1) * -np.expm1(-h * times[last])
    return np.asarray(out, dtype=np.float64)


def yield_monthly(cash: FloatArray, price_amount: float) -> float:
    """Annual yield (monthly compounding) with ``sum cash_t (1 + y/12)^-t = price_amount``."""
    t = np.arange(1, cash.size + 1)

    def f(y: float) -> float:
        # (1 + y/12)^-t in log space, the exponent clipped: no overflow at deep negative yields
        return float(cash @ np.exp(np.minimum(-t * math.log1p(y / 12.0), 300.0))) - price_amount

    if price_amount <= 0.0 or cash.sum() <= 0.0:
        return float("nan")
    try:
        return float(brentq(f, -0.99 * 12.0 + 1e-6, 10.0, xtol=1e-12))
    except ValueError:
        return float("nan")


def modified_duration(cash: FloatArray, y: float) -> float:
    """Return the modified duration (years) of ``cash`` at the annual yield ``y``."""
    if not math.isfinite(y):
        return float("nan")
    t = np.arange(1, cash.size + 1)
    v = cash * (1.0 + y / 12.0) ** -t
    pv = float(v.sum())
    if pv <= 0.0:
        return float("nan")
    return float((v @ (t / 12.0)) / pv / (1.0 + y / 12.0))


def par_rate(df: FloatArray) -> float:
    """Return the curve's par rate (monthly payments, annual quote) over the deal's months."""
    ann = float(df.sum()) / 12.0
    return (1.0 - float(df[-1])) / ann if ann > 0.0 else 0.0


def default_margin_bp(tr: Tranche, par: float) -> float:
    """Return a class's discount margin (bp) when none is given.

    It is the class's ``discount_spread_bp``; else a floating class's own spread, a fixed
    class's coupon over the curve's par rate (its issue spread, not below 0).
    """
    if tr.discount_spread_bp is not None:
        return float(tr.discount_spread_bp)
    if tr.spread_bp is not None:
        return float(tr.spread_bp)
    return max((float(tr.coupon or 0.0) - par) * 1e4, 0.0)


def per_class(
    value: float | Mapping[str, float] | None, deal: Deal, what: str
) -> list[float | None]:
    """One number for every class, a mapping by class name, or nothing."""
    names = [t.name for t in deal.tranches]
    if value is None:
        return [None] * len(names)
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ConventionError(
                f"The `{what}` names unknown classes {unknown}; the classes are {names}.",
                field=f"{what}.{unknown[0]}",
            )
        out: list[float | None] = []
        for n in names:
            v = value.get(n)
            out.append(None if v is None else finite_number(v, f"{what}.{n}"))
        return out
    v = finite_number(value, what)
    return [v] * len(names)


def finite_number(v: object, path: str) -> float:
    """Return ``v`` as a float; anything but a finite number is an error naming ``path``."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConventionError(f"The `{path}` must be a finite number. Got {v!r}.", field=path)
    return float(v)


def solve_margin(
    cash: FloatArray, df: FloatArray, times: FloatArray, face: float, price: float, name: str
) -> float:
    """Discount margin (bp) at which the expected cash is worth ``price`` per 100."""

    def f(dm_bp: float) -> float:
        return float(cash @ (df * np.exp(-dm_bp / 1e4 * times))) / face * 100.0 - price

    lo, hi = -5_000.0, 50_000.0
    if not f(lo) >= 0.0 >= f(hi):
        raise ConventionError(
            f"The `market_price.{name}` must lie between the prices at discount margins of "
            f"{lo:.0f} and {hi:.0f} bp ({f(hi) + price:.4f} .. {f(lo) + price:.4f}). Got {price!r}.",
            field=f"market_price.{name}",
        )
    return float(brentq(f, lo, hi, xtol=1e-10))
