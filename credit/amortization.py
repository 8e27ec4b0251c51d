"""The float kernels of amortisation: balances, interest and principal from rates and year fractions.

Date logic stays in `credit.loans` (schedule dates, calendars) and `valuation.daycounts`
(year fractions); these kernels only do the arithmetic, on padded ``(n_loans, n_periods)``
arrays (`amortize_padded`, the single loan's `credit.loans.schedule`) or on ragged rows
laid out loan by loan (`amortize_long`, the book's `credit.loans.schedules`), the same
arithmetic row for row.

* Annuity: the level payment from the periodic rate ``r_p = annual_rate * frequency / 12``,
  ``A = P r_p / (1 - (1 + r_p)^(-n))`` (``P / n`` at a zero rate), recomputed each period
  for a floating rate; interest ``I_k = B_{k-1} * rate_k * yf_k``; principal ``A - I_k``;
  the final payment clears the balance.
* Linear: equal principal ``P / n``; bullet: interest only, the principal at maturity.
"""

from __future__ import annotations

import numpy as np

from credit.terms import Amortization
from valuation._typing import FloatArray, IntArray

AMORTIZATION_CODES = {Amortization.ANNUITY: 0, Amortization.LINEAR: 1, Amortization.BULLET: 2}


def amortize_padded(
    principal: FloatArray,
    rates: FloatArray,
    yf: FloatArray,
    n_periods: IntArray,
    code: IntArray,
    periods_per_year: FloatArray,
    reset_level: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Interest, principal and closing balance on padded arrays ``(n_loans, max_periods)``.

    ``rates`` and ``yf`` are per period (annual decimal rate, accrual year fraction);
    entries beyond a loan's ``n_periods`` are ignored and returned as zero. The annuity
    level payment is fixed at the start from the first period's rate, or recomputed every
    period from the balance, the period's rate and the periods left when ``reset_level``
    (floating rates).
    """
    n_loans, width = yf.shape
    interest = np.zeros((n_loans, width))
    repaid = np.zeros((n_loans, width))
    closing = np.zeros((n_loans, width))
    balance = principal.astype(np.float64).copy()
    linear_step = principal / n_periods
    annuity = code == 0
    linear = code == 1
    for k in range(width):
        active = n_periods > k
        if not active.any():
            break
        last = n_periods == k + 1
        r = rates[:, k]
        inte = balance * r * yf[:, k]
        remaining = np.maximum(n_periods - k, 1)
        if k == 0 or reset_level:
            rp = r / periods_per_year
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                level = np.where(
                    np.abs(rp) > 1e-15,
                    balance * rp / -np.expm1(-remaining * np.log1p(rp)),
                    balance / remaining,
                )
        prin = np.where(annuity, level - inte, np.where(linear, linear_step, 0.0))
        prin = np.where(last, balance, prin)
        prin = np.where(active, prin, 0.0)
        inte = np.where(active, inte, 0.0)
        balance = np.where(active, balance - prin, balance)
        balance = np.where(last, 0.0, balance)
        interest[:, k] = inte
        repaid[:, k] = prin
        closing[:, k] = np.where(active, balance, 0.0)
    return interest, repaid, closing


def amortize_long(
    principal: FloatArray,
    rate: FloatArray,
    yf: FloatArray,
    n_per: IntArray,
    offsets: IntArray,
    code: IntArray,
    periods_per_year: FloatArray,
    row_rates: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Kernel on ragged rows; the same arithmetic as `amortize_padded`, row for row.

    ``rate`` is one fixed rate per loan; ``row_rates`` (floating loans) one rate per row,
    with the annuity level payment recomputed every period (``reset_level`` in `amortize_padded`).
    """
    total = yf.size
    interest = np.empty(total)
    repaid = np.empty(total)
    closing = np.empty(total)
    order = np.argsort(-n_per, kind="stable")
    n_sorted = n_per[order]
    off = offsets[order]
    bal = principal[order].astype(np.float64)
    r = rate[order]
    ppy = periods_per_year[order]
    cd = code[order]
    n_f = n_sorted.astype(np.float64)

    def level_payment(
        b: FloatArray, rr: FloatArray, per_year: FloatArray, left: FloatArray
    ) -> FloatArray:
        rp = rr / per_year
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.where(np.abs(rp) > 1e-15, b * rp / -np.expm1(-left * np.log1p(rp)), b / left)

    level = level_payment(bal, r if row_rates is None else row_rates[off], ppy, n_f)
    step = np.where(cd == 0, 0.0, np.where(cd == 1, bal / n_f, 0.0))
    annuity = cd == 0
    alive_counts = np.searchsorted(-n_sorted, -np.arange(int(n_sorted[0])), side="left")
    for kk in range(int(n_sorted[0])):
        m = int(alive_counts[kk])
        rows = off[:m] + kk
        b = bal[:m]
        if row_rates is None:
            rr = r[:m]
        else:
            rr = row_rates[rows]
            if kk > 0:
                level[:m] = level_payment(b, rr, ppy[:m], n_f[:m] - kk)
        inte = b * rr * yf[rows]
        prin = np.where(annuity[:m], level[:m] - inte, step[:m])
        last = n_sorted[:m] == kk + 1
        prin = np.where(last, b, prin)
        b = np.where(last, 0.0, b - prin)
        bal[:m] = b
        interest[rows] = inte
        repaid[rows] = prin
        closing[rows] = b
    return interest, repaid, closing
