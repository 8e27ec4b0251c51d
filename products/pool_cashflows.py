"""Pool cashflows per scenario: what the collateral pays each month, before the waterfall.

Each asset's scheduled interest, principal, prepayments and balance per month
(`products.schedules.AssetSchedules`) are aggregated per scenario, either from survival
weights (a deterministic constant default rate, or the large-pool conditional survival)
or from simulated default periods (copula Monte Carlo), with recoveries after a lag.
`pool_cashflows_reference` is the plain loop the vectorised builders are tested equal to.
The priority of payments over these cashflows is `products.waterfall`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from products.schedules import AssetSchedules
from valuation._typing import FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class PoolCashflows:
    """Aggregate pool cashflows per scenario, arrays ``(n_scenarios, n_periods)`` (month 1..T).

    ``weights`` (n_scenarios,) are scenario probabilities (1/n for Monte Carlo paths);
    ``pending_recoveries[:, t]`` are recoveries on defaults up to month ``t`` still to come.
    """

    interest: FloatArray
    scheduled_principal: FloatArray
    prepayments: FloatArray
    defaults: FloatArray
    recoveries: FloatArray
    balance: FloatArray
    pending_recoveries: FloatArray
    initial_balance: float
    weights: FloatArray

    @property
    def n_scenarios(self) -> int:
        """Return the number of scenarios."""
        return int(self.interest.shape[0])

    @property
    def n_periods(self) -> int:
        """Return the number of monthly periods."""
        return int(self.interest.shape[1])

    @property
    def collections(self) -> FloatArray:
        """Return the total collections per scenario and period."""
        return np.asarray(
            self.interest + self.scheduled_principal + self.prepayments + self.recoveries,
            dtype=np.float64,
        )

    def net_loss(self) -> FloatArray:
        """Pool loss per scenario: defaults minus recoveries (n_scenarios,)."""
        return np.asarray(self.defaults.sum(axis=1) - self.recoveries.sum(axis=1), dtype=np.float64)


def _pending(recoveries: FloatArray, lag: int) -> FloatArray:
    n, t_max = recoveries.shape
    c = np.concatenate([np.zeros((n, 1)), np.cumsum(recoveries, axis=1)], axis=1)
    idx = np.arange(1, t_max + 1)
    hi = np.minimum(idx + lag, t_max)
    return np.asarray(c[:, hi] - c[:, idx], dtype=np.float64)


def pool_cashflows_from_survival(
    sched: AssetSchedules, survival: FloatArray, weights: FloatArray | None = None
) -> PoolCashflows:
    """Aggregate pool cashflows from performing probabilities.

    Parameters
    ----------
    sched : AssetSchedules
    survival : FloatArray
        ``(n_scenarios, n_periods + 1)`` -- the same for every asset (a CDR vector) -- or
        ``(n_scenarios, n_assets, n_periods + 1)`` -- per asset (large-pool conditional
        survival); column 0 must be 1. Entry ``t`` is the share still performing after month
        ``t`` (it paid month ``t``).
    weights : FloatArray, optional
        Scenario probabilities; equal weights by default.
    """
    s = np.asarray(survival, dtype=np.float64)
    lag = sched.recovery_lag_months
    if s.ndim == 2:
        tot_i = sched.interest.sum(axis=0)
        tot_p = sched.principal.sum(axis=0)
        tot_pp = sched.prepayment.sum(axis=0)
        tot_b = sched.balance.sum(axis=0)
        tot_rb = sched.recovery_rate @ sched.balance
        drop = s[:, :-1] - s[:, 1:]
        interest = s[:, 1:] * tot_i[1:]
        principal = s[:, 1:] * tot_p[1:]
        prepay = s[:, 1:] * tot_pp[1:]
        balance = s[:, 1:] * tot_b[1:]
        defaults = drop * tot_b[:-1]
        rec_at_default = drop * tot_rb[:-1]
    else:
        interest = np.einsum("sit,it->st", s[:, :, 1:], sched.interest[:, 1:])
        principal = np.einsum("sit,it->st", s[:, :, 1:], sched.principal[:, 1:])
        prepay = np.einsum("sit,it->st", s[:, :, 1:], sched.prepayment[:, 1:])
        balance = np.einsum("sit,it->st", s[:, :, 1:], sched.balance[:, 1:])
        drop = s[:, :, :-1] - s[:, :, 1:]
        defaults = np.einsum("sit,it->st", drop, sched.balance[:, :-1])
        rec_at_default = np.einsum(
            "sit,it->st", drop, sched.recovery_rate[:, None] * sched.balance[:, :-1]
        )
    recoveries = np.zeros_like(defaults)
    t_max = defaults.shape[1]
    if lag < t_max:
        recoveries[:, lag:] = rec_at_default[:, : t_max - lag]
    n = defaults.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    return PoolCashflows(
        interest,
        principal,
        prepay,
        defaults,
        recoveries,
        balance,
        _pending(recoveries, lag),
        float(sched.balance[:, 0].sum()),
        w,
    )


def pool_cashflows_from_default_periods(
    sched: AssetSchedules, default_period: IntArray
) -> PoolCashflows:
    """Aggregate pool cashflows from simulated default months.

    Parameters
    ----------
    default_period : IntArray
        ``(n_paths, n_assets)``: the month ``1..T`` in which each asset defaults (it pays
        nothing from that month on; its balance at the start of the month is the default
        amount), or 0 if it does not default.

    Notes
    -----
    Full-pool totals minus what the defaulted assets no longer pay: the defaults form a
    sparse (path x asset) matrix, so the cost grows with the number of defaults, not with
    paths x assets x months.
    """
    d = np.asarray(default_period, dtype=np.int64)
    n, m = d.shape
    t_max = sched.n_periods
    lag = sched.recovery_lag_months
    x = np.stack([sched.interest, sched.principal, sched.prepayment, sched.balance], axis=-1)
    tot = x[:, 1:, :].sum(axis=0)  # (T, 4)
    out = np.empty((n, t_max, 4))
    out[:] = tot
    rows, cols = np.nonzero(d)
    dv = d[rows, cols]
    defaults = np.zeros(n * t_max)
    rec = np.zeros(n * t_max)
    if rows.size:
        indptr = np.searchsorted(rows, np.arange(n + 1)).astype(np.int64)
        data = np.zeros(rows.size)
        mat = sparse.csr_matrix((data, cols, indptr), shape=(n, m))
        first = int(dv.min())
        for t in range(first, t_max + 1):
            mat.data = (dv <= t).astype(np.float64)
            out[:, t - 1, :] -= np.asarray(mat @ x[:, t, :])
        amount = sched.balance[cols, dv - 1]
        defaults = np.bincount(rows * t_max + (dv - 1), weights=amount, minlength=n * t_max)
        ok = dv + lag <= t_max
        rec = np.bincount(
            rows[ok] * t_max + (dv[ok] - 1 + lag),
            weights=amount[ok] * sched.recovery_rate[cols[ok]],
            minlength=n * t_max,
        )
    defaults = defaults.reshape(n, t_max)
    recoveries = rec.reshape(n, t_max)
    # clean tiny negative round-off from the subtraction
    out = np.where(np.abs(out) < 1e-9 * max(float(sched.balance[:, 0].sum()), 1.0), 0.0, out)
    return PoolCashflows(
        out[:, :, 0],
        out[:, :, 1],
        out[:, :, 2],
        defaults,
        recoveries,
        out[:, :, 3],
        _pending(recoveries, lag),
        float(sched.balance[:, 0].sum()),
        np.full(n, 1.0 / n),
    )


def pool_cashflows_reference(sched: AssetSchedules, default_period: IntArray) -> PoolCashflows:
    """Plain loop version of `pool_cashflows_from_default_periods` (the specification)."""
    d = np.asarray(default_period, dtype=np.int64)
    n, m = d.shape
    t_max = sched.n_periods
    lag = sched.recovery_lag_months
    arr = {k: np.zeros((n, t_max)) for k in ("i", "p", "pp", "b", "d", "r")}
    for s in range(n):
        for a in range(m):
            da = int(d[s, a])
            for t in range(1, t_max + 1):
                if da == 0 or t < da:
                    arr["i"][s, t - 1] += sched.interest[a, t]
                    arr["p"][s, t - 1] += sched.principal[a, t]
                    arr["pp"][s, t - 1] += sched.prepayment[a, t]
                    arr["b"][s, t - 1] += sched.balance[a, t]
                elif t == da:
                    amount = sched.balance[a, t - 1]
                    arr["d"][s, t - 1] += amount
                    if t + lag <= t_max:
                        arr["r"][s, t - 1 + lag] += amount * sched.recovery_rate[a]
    return PoolCashflows(
        arr["i"],
        arr["p"],
        arr["pp"],
        arr["d"],
        arr["r"],
        arr["b"],
        _pending(arr["r"], lag),
        float(sched.balance[:, 0].sum()),
        np.full(n, 1.0 / n),
    )
