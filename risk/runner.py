"""Stress runner: revalue a book base and stressed, with common random numbers.

For each scenario the runner reports, per position and in aggregate, the base figure,
the stressed figure and the delta of: ``collateral_value``, ``lending_value``, ``ltv``,
``pd``, ``lgd``, ``expected_loss``, ``capital``, ``margin_calls`` and, for tranches,
``tranche_expected_loss`` and ``price`` (plus ``value``, the mark of each position, which
the sensitivities use); the aggregate adds ``loss_var`` and ``loss_es``, the one-year
loan-book loss VaR and ES at 99.9 %. The base of a scenario is the zero shock over the
scenario's horizon, computed on the same random numbers.

Pipeline (each stage is a list of chunk tasks given to an `Executor`):

1. **Assets** (chunks of assets). Monthly attributable cash flows are simulated per
   asset from a random stream seeded by ``(seed, blake2b(asset id))`` (so results depend
   on neither chunking nor book order), shocked per variant (`risk.shocks`), and
   discounted on the risk-free curve (shifted) plus the asset's premium. Per variant and
   asset: value now ``V_0`` (mean over paths; the collateral value), value at the end
   of the horizon ``V_H`` per path (cash flows after the horizon, discounted to today),
   its quantiles, the project's one haircut (`valuation.haircut`)
   ``h = max(floor, 1 - Q_{1-q}(V_H) / V_0 x (1 - c))`` at the confidence ``q``
   (default 0.95, i.e. the 5 % quantile), liquidation cost ``c`` (stressed) and floor
   (default 30 %), and lending value ``V_0 (1 - h)``.
2. **Loans** (chunks of loans). Pledged collateral value ``sum_a s_a V_0,a``; LTV =
   EAD / collateral value; PD by `risk.shocks.stress_pd` (collateral move in units of
   its base horizon log-volatility, then the PD multiplier); economic LGD =
   ``E[max(0, 1 - R(U)/EAD) | U < PD]`` with ``R(u) = sum_a s_a (1 - c_a) Q_a(u)``: default
   falls on the worst ``PD`` fraction of collateral outcomes (wrong-way risk; the pledged
   assets' quantiles are added, i.e. taken as comonotone, a conservative choice); a
   loan without a pledge has no LTV (NaN: never a margin call) and is left out of the
   aggregate LTV;
   LGD = `risk.shocks.stress_lgd`; EL = PD x LGD x EAD; capital = IRB K x EAD
   (`credit.capital.irb_capital`) at the larger of the regulatory LGD (when the loan has
   one) and the stressed LGD; margin call when LTV > the loan's threshold; value =
   contractual interest-only cash flows discounted at the (shifted) risk-free curve plus
   the loan's base spread plus the credit-spread shift.
3. **Tranches** (one task per securitization). Pool PDs cumulated over the tranche's
   maturity, ``1 - (1 - PD)^T``, stressed LGDs and EADs, correlation + shift; loss
   distribution by `credit.portfolio.loss_distribution` (recursion up to
   `RECURSION_MAX_LOANS` loans; above, `credit.portfolio.vasicek_tranche_loss` with the
   exposure-weighted PD and the default-weighted LGD); tranche EL as a fraction of its width;
   price per 100 = ``sum_k c/12 (1 - EL t_k / T) D_k + (1 - EL) D_T`` (losses accrue
   linearly to maturity) with ``D`` the shifted risk-free curve plus the credit-spread shift.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from credit.capital import asset_correlation, irb_capital
from credit.collateral import DEFAULT_HAIRCUT_QUANTILE
from credit.portfolio import (
    expected_shortfall,
    loss_distribution,
    tranche_expected_loss,
    value_at_risk,
    vasicek_tranche_loss,
)
from risk.book import Book
from risk.executors import Executor, LocalExecutor
from risk.scenarios import Scenario, Shocks
from risk.shocks import (
    obsolescence_times,
    revenue_factors,
    shifted_discount_factors,
    shock_revenue_paths,
    stress_correlation,
    stress_lgd,
    stress_liquidation_cost,
    stress_pd,
)
from valuation._typing import FloatArray, IntArray
from valuation.conventions import DayCount, add_months, year_fraction
from valuation.errors import ConventionError
from valuation.haircut import DEFAULT_HAIRCUT_FLOOR, haircut_from_quantile

#: Quantile levels of the horizon value kept per asset (finer in the lower tail, where
#: defaults fall; 0.1587 and 0.8413 are the one-sigma levels used for log-volatility).
QUANTILE_LEVELS: FloatArray = np.array(
    [
        0.0005,
        0.001,
        0.002,
        0.005,
        0.01,
        0.02,
        0.03,
        0.05,
        0.075,
        0.1,
        0.1587,
        0.2,
        0.25,
        0.3,
        0.4,
        0.5,
        0.6,
        0.7,
        0.75,
        0.8,
        0.8413,
        0.9,
        0.95,
        0.99,
    ]
)
_I16 = int(np.searchsorted(QUANTILE_LEVELS, 0.1587))
_I84 = int(np.searchsorted(QUANTILE_LEVELS, 0.8413))
#: Pools up to this many loans use the exact recursion (about 0.3 s a pool at 300 loans);
#: larger ones the large-pool model, whose error falls as the pool grows.
RECURSION_MAX_LOANS = 300

METRICS: tuple[str, ...] = (
    "collateral_value",
    "lending_value",
    "ltv",
    "pd",
    "lgd",
    "expected_loss",
    "capital",
    "margin_calls",
    "loss_var",
    "loss_es",
    "tranche_expected_loss",
    "price",
    "value",
)
_ASSET_METRICS = ("collateral_value", "lending_value", "value")
_LOAN_METRICS = (
    "collateral_value",
    "lending_value",
    "ltv",
    "pd",
    "lgd",
    "expected_loss",
    "capital",
    "margin_calls",
    "value",
)
_TRANCHE_METRICS = ("expected_loss", "tranche_expected_loss", "price", "value")


# ----------------------------------------------------------------------------- inputs
@dataclass(frozen=True, slots=True, eq=False)
class MarketGrid:
    """Risk-free discount factors on a monthly grid: month ``k`` = ``k`` months after as-of.

    Parameters
    ----------
    times_years : array (n_months,)
        ACT/365F year fraction of month ``k = 1..n_months``.
    discount_factors : array (n_months,)
        Risk-free discount factors at those times.
    """

    times_years: FloatArray
    discount_factors: FloatArray

    def __post_init__(self) -> None:
        t = np.asarray(self.times_years, dtype=np.float64)
        d = np.asarray(self.discount_factors, dtype=np.float64)
        if (
            t.ndim != 1
            or t.shape != d.shape
            or t.size == 0
            or np.any(np.diff(t) <= 0)
            or t[0] <= 0
            or np.any(d <= 0)
            or not np.all(np.isfinite(d))
        ):
            raise ConventionError(
                "The `discount_factors` of `MarketGrid` must be positive and "
                "match increasing positive `times_years`.",
                field="discount_factors",
            )
        object.__setattr__(self, "times_years", t)
        object.__setattr__(self, "discount_factors", d)

    @property
    def months(self) -> int:
        return int(self.times_years.size)

    @classmethod
    def from_market(cls, market: Any, months: int) -> MarketGrid:
        """Sample a `valuation.market.MarketData` curve (QuantLib) on month ends from its as-of."""
        as_of: date = market.as_of
        dates = [add_months(as_of, k) for k in range(1, months + 1)]
        t = np.array([year_fraction(as_of, d, DayCount.ACT_365F) for d in dates])
        return cls(t, np.asarray(market.discount_factors(dates), dtype=np.float64))

    @classmethod
    def flat(cls, rate: float, months: int) -> MarketGrid:
        """A flat continuously compounded curve on ``t_k = k / 12``."""
        t = np.arange(1, months + 1, dtype=np.float64) / 12.0
        return cls(t, np.exp(-rate * t))


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Numerical settings of a stress run (recorded with its results).

    Parameters
    ----------
    n_paths : int
        Monte Carlo paths per asset.
    seed : int
        Root seed; each asset's stream is ``SeedSequence([seed, blake2b(id)])``.
    asset_chunk_size, loan_chunk_size : int
        Positions per chunk task (bounds peak memory: about
        ``asset_chunk_size * n_paths * months * 8`` bytes per working array).
    haircut_confidence : float
        Confidence of the collateral-value quantile in the haircut.
    haircut_floor : float
        Least haircut, [0, 1] (default 30 %, as in quotes and loans).
    """

    n_paths: int = 256
    seed: int = 20_260_101
    asset_chunk_size: int = 250
    loan_chunk_size: int = 20_000
    haircut_confidence: float = 1.0 - DEFAULT_HAIRCUT_QUANTILE
    haircut_floor: float = DEFAULT_HAIRCUT_FLOOR

    def __post_init__(self) -> None:
        for name, lo in (("n_paths", 2), ("asset_chunk_size", 1), ("loan_chunk_size", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ConventionError(
                    f"The `{name}` of `RunConfig` must be an integer >= {lo}. Got {v!r}.",
                    field=name,
                )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConventionError(
                f"The `seed` of `RunConfig` must be an integer >= 0. Got {self.seed!r}.",
                field="seed",
            )
        if not 0.5 <= self.haircut_confidence < 1.0:
            raise ConventionError(
                "The `haircut_confidence` of `RunConfig` must be in [0.5, 1). "
                f"Got {self.haircut_confidence!r}.",
                field="haircut_confidence",
            )
        if not 0.0 <= self.haircut_floor <= 1.0:
            raise ConventionError(
                "The `haircut_floor` of `RunConfig` must be in [0, 1]. "
                f"Got {self.haircut_floor!r}.",
                field="haircut_floor",
            )


@dataclass(frozen=True, slots=True)
class Variant:
    """One revaluation: shocks over a horizon."""

    shocks: Shocks
    horizon_months: int


def _asset_seed(seed: int, asset_id: str) -> np.random.SeedSequence:
    h = int.from_bytes(hashlib.blake2b(asset_id.encode(), digest_size=8).digest(), "little")
    return np.random.SeedSequence([seed, h])


# ----------------------------------------------------------------------------- stage 1
@dataclass(frozen=True, slots=True, eq=False)
class _AssetTask:
    ids: tuple[str, ...]
    categories: tuple[str, ...]
    cross_border: Any
    revenue_0: Any
    growth: Any
    vol: Any
    hazard: Any
    half_life: Any
    life: Any
    premium: Any
    liq_cost: Any
    paths: dict[int, Any]


@dataclass(frozen=True, slots=True, eq=False)
class _AssetOut:
    value_0: FloatArray  # (V, A)
    lending_value: FloatArray  # (V, A)
    haircut: FloatArray  # (V, A)
    quantiles: FloatArray  # (V, A, Q) horizon-value quantiles
    liq_cost: FloatArray  # (V, A)


def _asset_chunk(
    task: _AssetTask, *, variants: tuple[Variant, ...], grid: MarketGrid, config: RunConfig
) -> _AssetOut:
    n_a, n_p, n_m = len(task.ids), config.n_paths, grid.months
    t = grid.times_years
    k = np.arange(1, n_m + 1, dtype=np.float64)
    sqrt_dt = math.sqrt(1.0 / 12.0)
    w = np.empty((n_a, n_p, n_m))
    u = np.empty((n_a, n_p, 2))
    for i, aid in enumerate(task.ids):
        rng = np.random.default_rng(_asset_seed(config.seed, aid))
        z = rng.standard_normal((n_p, n_m))
        np.cumsum(z, axis=1, out=w[i])
        u[i] = rng.random((n_p, 2))
    w *= sqrt_dt
    u_base, u_add = 1.0 - u[:, :, 0], 1.0 - u[:, :, 1]  # in (0, 1]
    life_mask = k[None, :] <= task.life[:, None]  # (A, M)
    q_lo = 1.0 - config.haircut_confidence
    levels = np.concatenate([QUANTILE_LEVELS, [q_lo]])
    n_v = len(variants)
    cf = np.empty((n_a, n_p, n_m))
    value_0 = np.empty((n_v, n_a))
    lend = np.empty((n_v, n_a))
    hair = np.empty((n_v, n_a))
    quant = np.empty((n_v, n_a, QUANTILE_LEVELS.size))
    liq = np.empty((n_v, n_a))
    for v, var in enumerate(variants):
        sh = var.shocks
        level = revenue_factors(task.categories, task.cross_border, sh)
        r0 = task.revenue_0 if level is None else task.revenue_0 * level
        sig = task.vol if sh.volatility_multiplier is None else task.vol * sh.volatility_multiplier
        g = task.growth if sh.growth_shift is None else task.growth + sh.growth_shift
        hl = (
            task.half_life
            if sh.half_life_multiplier is None
            else task.half_life * sh.half_life_multiplier
        )
        haz = (
            task.hazard
            if sh.obsolescence_hazard_add is None
            else task.hazard + sh.obsolescence_hazard_add
        )
        # one (A, P, M) buffer per chunk, updated in place: big temporaries are what cost
        # most (page faults), in particular on Dask workers that trim freed memory
        drift = (g - 0.5 * sig * sig)[:, None, None] * t[None, None, :]
        np.multiply(sig[:, None, None], w, out=cf)
        cf += drift
        np.exp(cf, out=cf)
        decay = np.where(
            np.isinf(hl)[:, None],
            1.0,
            np.exp2(-k[None, :] / np.where(np.isinf(hl), 1.0, hl)[:, None]),
        )
        cf *= (r0[:, None] * decay * life_mask)[:, None, :]
        if np.any(haz > 0.0):
            tau = obsolescence_times(u_base, haz[:, None])  # (A, P)
            # months alive on each path: t_k <= tau  <=>  k <= searchsorted(t, tau, right)
            alive = np.searchsorted(t, tau.ravel(), side="right").reshape(tau.shape)
            cf *= k[None, None, :] <= alive[:, :, None]
        for i, base_paths in task.paths.items():
            lvl = 1.0 if level is None else float(level[i])
            shocked = shock_revenue_paths(
                base_paths,
                sh,
                level_factor=lvl,
                half_life_months=float(task.half_life[i]),
                uniforms=u_add[i],
            )
            cf[i] = 0.0
            m = min(n_m, shocked.shape[1])
            cf[i, :, :m] = shocked[:, :m]
        df = shifted_discount_factors(grid.discount_factors, t, sh)
        df_a = df[None, :] * np.exp(-task.premium[:, None] * t[None, :])  # (A, M)
        cf *= df_a[:, None, :]
        v0_paths = cf.sum(axis=2)
        h = var.horizon_months
        # the value at the end of the horizon, discounted to today (h = 0: today's value)
        vh = np.zeros((n_a, n_p)) if h >= n_m else cf[:, :, h:].sum(axis=2)
        v0 = v0_paths.mean(axis=1)
        qs = np.quantile(vh, levels, axis=1).T  # (A, Q+1)
        c = stress_liquidation_cost(task.liq_cost, sh)
        haircut = haircut_from_quantile(
            v0, qs[:, -1], liquidation_cost=c, floor=config.haircut_floor
        )
        value_0[v], hair[v], lend[v] = v0, haircut, v0 * (1.0 - haircut)
        quant[v], liq[v] = qs[:, :-1], c
    return _AssetOut(value_0, lend, hair, quant, liq)


# ----------------------------------------------------------------------------- stage 2
@dataclass(frozen=True, slots=True, eq=False)
class _LoanTask:
    start: int
    stop: int
    ead: FloatArray
    pd: FloatArray
    lgd: FloatArray
    rate: FloatArray
    maturity: FloatArray
    margin_ltv: FloatArray
    sales: FloatArray
    lgd_reg: FloatArray  # NaN where not given
    p_loan: IntArray  # local loan index of each pledge
    p_asset: IntArray  # asset index
    p_share: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class _LoanOut:
    start: int
    metrics: dict[str, FloatArray]  # each (V, L)


def economic_lgd(
    recovery_quantiles: FloatArray,
    ead: FloatArray,
    pd: FloatArray,
    levels: FloatArray = QUANTILE_LEVELS,
) -> FloatArray:
    """``E[max(0, 1 - R(U) / EAD) | U < PD]`` from recovery quantiles on ``levels``.

    Parameters
    ----------
    recovery_quantiles : array (n, n_levels)
        Recovery (collateral value net of liquidation cost) at the quantile levels.
    ead : array (n,)
        Exposure (> 0).
    pd : array (n,)
        Default probability (0, 1]: the conditioning fraction of worst outcomes.

    Notes
    -----
    The integrand is taken linear between levels (flat below the first level and above
    the last) and integrated exactly over ``[0, PD]`` by the trapezoid rule.
    """
    rq = np.asarray(recovery_quantiles, dtype=np.float64)
    e = np.asarray(ead, dtype=np.float64)[:, None]
    p = np.asarray(pd, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(e > 0.0, np.maximum(0.0, 1.0 - rq / np.where(e > 0, e, 1.0)), 0.0)
    u = np.concatenate([[0.0], levels, [1.0]])
    g = np.concatenate([g[:, :1], g, g[:, -1:]], axis=1)  # (n, Q+2)
    lo, hi = u[:-1][None, :], u[1:][None, :]
    top = np.minimum(hi, p[:, None])
    width = np.clip(top - lo, 0.0, None)
    frac = width / (hi - lo)
    g_top = g[:, :-1] + (g[:, 1:] - g[:, :-1]) * frac
    area = 0.5 * (g[:, :-1] + g_top) * width
    return np.asarray(np.clip(area.sum(axis=1) / p, 0.0, 1.0), dtype=np.float64)


def _capital_groups(
    maturity: FloatArray, sales: FloatArray
) -> list[tuple[float, float | None, IntArray]]:
    """Loans grouped by (maturity, sales): `irb_capital` takes those two as scalars."""
    keys = np.stack([np.round(maturity, 6), np.nan_to_num(sales, nan=-1.0)], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    return [
        (float(m), None if sv < 0 else float(sv), np.flatnonzero(inv == j))
        for j, (m, sv) in enumerate(uniq)
    ]


def _capital(
    pd_: FloatArray, lgd: FloatArray, groups: list[tuple[float, float | None, IntArray]]
) -> FloatArray:
    """IRB K per unit EAD (`credit.capital.irb_capital`), one call per loan group."""
    k = np.empty_like(pd_)
    p = np.clip(pd_, 1e-12, 1.0 - 1e-12)
    for m, sales, idx in groups:
        k[idx] = irb_capital(p[idx], lgd[idx], maturity_years=m, sales_meur=sales)
    return k


def _loan_chunk(
    task: _LoanTask,
    *,
    assets: _AssetOut,
    variants: tuple[Variant, ...],
    base_of: IntArray,
    grid: MarketGrid,
) -> _LoanOut:
    n_l = task.stop - task.start
    n_v = len(variants)
    n_assets = assets.value_0.shape[1]
    # pledge matrix S (loans x assets) of shares: pledged sums are S @ asset figures
    pledge = sparse.csr_matrix((task.p_share, (task.p_loan, task.p_asset)), shape=(n_l, n_assets))
    coll = np.stack([pledge @ assets.value_0[v] for v in range(n_v)])  # (V, L)
    lend = np.stack([pledge @ assets.lending_value[v] for v in range(n_v)])
    secured = np.asarray(pledge.getnnz(axis=1) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # no pledge: LTV undefined (NaN, never a margin call); pledged collateral worth
        # nothing: LTV infinite (a margin call)
        ltv = np.where(
            coll > 0.0, task.ead / np.where(coll > 0, coll, 1.0), np.where(secured, np.inf, np.nan)
        )
    log_vol: dict[int, FloatArray] = {}
    for b in sorted({int(x) for x in base_of}):
        val_q = pledge @ assets.quantiles[b][:, [_I16, _I84]]  # (L, 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            lv = 0.5 * (np.log(val_q[:, 1]) - np.log(val_q[:, 0]))
        log_vol[b] = np.where(np.isfinite(lv), lv, 1.0)
    out: dict[str, FloatArray] = {m: np.empty((n_v, n_l)) for m in _LOAN_METRICS}
    t = grid.times_years
    n_months = np.clip(np.round(task.maturity * 12.0).astype(np.int64), 1, grid.months)
    k = np.arange(1, grid.months + 1)
    base_df = grid.discount_factors
    t_mat = t[n_months - 1]
    z_mat = -np.log(base_df[n_months - 1]) / t_mat
    spread0 = np.maximum(task.rate - z_mat, 0.0)
    # loan discounting apart from the (shocked) risk-free curve: exp(-spread0 t), alive months
    d0 = np.exp(-spread0[:, None] * t[None, :]) * (k[None, :] <= n_months[:, None])  # (L, M)
    d0_mat = d0[np.arange(n_l), n_months - 1]
    groups = _capital_groups(task.maturity, task.sales)
    for v, var in enumerate(variants):
        sh = var.shocks
        b = int(base_of[v])
        has_coll = coll[b] > 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(has_coll, coll[v] / np.where(has_coll, coll[b], 1.0), 1.0)
        pd_v = stress_pd(task.pd, sh, ratio, log_vol[b])
        rec_q = pledge @ (assets.quantiles[v] * (1.0 - assets.liq_cost[v])[:, None])
        econ = np.where(has_coll, economic_lgd(rec_q, task.ead, np.maximum(pd_v, 1e-12)), 0.0)
        lgd_v = stress_lgd(task.lgd, sh, econ)
        el = pd_v * lgd_v * task.ead
        lgd_cap = np.where(np.isnan(task.lgd_reg), lgd_v, np.fmax(task.lgd_reg, lgd_v))
        cap = _capital(pd_v, lgd_cap, groups) * task.ead
        df = shifted_discount_factors(base_df, t, sh, spread_bp=sh.credit_spread_shift_bp)
        value = task.ead * (task.rate / 12.0 * (d0 @ df) + d0_mat * df[n_months - 1])
        out["collateral_value"][v] = coll[v]
        out["lending_value"][v] = lend[v]
        out["ltv"][v] = ltv[v]
        out["pd"][v] = pd_v
        out["lgd"][v] = lgd_v
        out["expected_loss"][v] = el
        out["capital"][v] = cap
        with np.errstate(invalid="ignore"):
            out["margin_calls"][v] = (ltv[v] > task.margin_ltv).astype(np.float64)
        out["value"][v] = value
    return _LoanOut(task.start, out)


# ----------------------------------------------------------------------------- stage 3
@dataclass(frozen=True, slots=True, eq=False)
class _DealTask:
    tranche_index: IntArray
    loan_index: IntArray
    attach: FloatArray
    detach: FloatArray
    notional: FloatArray
    coupon: FloatArray
    maturity: FloatArray
    correlation: float


def tranche_price(
    el_fraction: FloatArray,
    coupon: FloatArray,
    maturity_years: FloatArray,
    times_years: FloatArray,
    discount_factors: FloatArray,
) -> FloatArray:
    """Price per 100 of a tranche paying ``coupon`` monthly on an outstanding that loses
    ``el_fraction`` linearly to maturity: ``100 [sum_k c/12 (1 - EL t_k/T) D_k + (1 - EL) D_T]``.
    """
    el = np.asarray(el_fraction, dtype=np.float64)
    c = np.asarray(coupon, dtype=np.float64)
    mat = np.asarray(maturity_years, dtype=np.float64)
    t = np.asarray(times_years)
    d = np.asarray(discount_factors)
    n = np.clip(np.round(mat * 12.0).astype(np.int64), 1, t.size)
    k = np.arange(1, t.size + 1)
    alive = k[None, :] <= n[:, None]
    t_n = t[n - 1]
    outstanding = 1.0 - el[:, None] * np.minimum(t[None, :] / t_n[:, None], 1.0)
    coupons = (c[:, None] / 12.0 * outstanding * d[None, :] * alive).sum(axis=1)
    return np.asarray(100.0 * (coupons + (1.0 - el) * d[n - 1]), dtype=np.float64)


def _deal_task(
    task: _DealTask,
    *,
    loan_pd: FloatArray,
    loan_lgd: FloatArray,
    loan_ead: FloatArray,
    variants: tuple[Variant, ...],
    grid: MarketGrid,
) -> dict[str, FloatArray]:
    n_v, n_t = len(variants), task.tranche_index.size
    out = {m: np.empty((n_v, n_t)) for m in _TRANCHE_METRICS}
    eads = loan_ead[task.loan_index]
    pool = float(eads.sum())
    mat = float(task.maturity.max())
    exact = task.loan_index.size <= RECURSION_MAX_LOANS
    for v, var in enumerate(variants):
        sh = var.shocks
        p1 = loan_pd[v, task.loan_index]
        cum = np.clip(1.0 - (1.0 - p1) ** mat, 1e-10, 1.0 - 1e-10)
        lg = np.clip(loan_lgd[v, task.loan_index], 1e-6, 1.0)
        rho = float(stress_correlation(task.correlation, sh))
        if exact:
            losses, probs = loss_distribution(cum, eads, lg, rho, method="recursion")
            frac = losses / pool
            el = np.array(
                [
                    tranche_expected_loss(frac, probs, a, d)
                    for a, d in zip(task.attach, task.detach, strict=True)
                ]
            )
        else:
            # large pool: Vasicek with the exposure-weighted PD and LGD
            p_bar = float(np.dot(cum, eads) / pool)
            lgd_bar = float(np.dot(lg * cum, eads) / max(np.dot(cum, eads), 1e-300))
            el = np.array(
                [
                    vasicek_tranche_loss(p_bar, rho, 1.0 - lgd_bar, a, d)
                    for a, d in zip(task.attach, task.detach, strict=True)
                ]
            )
        df = shifted_discount_factors(
            grid.discount_factors, grid.times_years, sh, spread_bp=sh.credit_spread_shift_bp
        )
        price = tranche_price(el, task.coupon, task.maturity, grid.times_years, df)
        out["tranche_expected_loss"][v] = el
        out["expected_loss"][v] = el * task.notional
        out["price"][v] = price
        out["value"][v] = price / 100.0 * task.notional
    return out


#: Confidence of the portfolio loss VaR and ES in the aggregate (the IRB's 99.9 %).
TAIL_CONFIDENCE = 0.999


def _portfolio_tail(
    loan: dict[str, FloatArray], ead: FloatArray, rho: FloatArray, variants: tuple[Variant, ...]
) -> dict[str, FloatArray]:
    """One-year loan-book loss VaR and ES at `TAIL_CONFIDENCE` for each variant.

    One-factor Gaussian copula (`credit.portfolio`) on the stressed PDs and LGDs with each
    loan's Basel correlation at its base PD plus the scenario's correlation shift; exact
    recursion up to `RECURSION_MAX_LOANS` loans, the large-pool distribution above.
    """
    n_v = len(variants)
    var = np.zeros(n_v)
    es = np.zeros(n_v)
    if ead.size == 0:
        return {"loss_var": var, "loss_es": es}
    method = "recursion" if ead.size <= RECURSION_MAX_LOANS else "lhp"
    for v, variant in enumerate(variants):
        p = np.clip(loan["pd"][v], 1e-10, 1.0 - 1e-10)
        lg = np.clip(loan["lgd"][v], 1e-6, 1.0)
        r = stress_correlation(rho, variant.shocks)
        losses, probs = loss_distribution(p, ead, lg, r, method=method)
        var[v] = value_at_risk(losses, probs, TAIL_CONFIDENCE)
        es[v] = expected_shortfall(losses, probs, TAIL_CONFIDENCE)
    return {"loss_var": var, "loss_es": es}


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True, eq=False)
class VariantFigures:
    """Per-position figures of every variant: ``metrics[kind][metric]`` is (V, n_kind)."""

    variants: tuple[Variant, ...]
    metrics: dict[str, dict[str, FloatArray]]


@dataclass(frozen=True, eq=False)
class StressResult:
    """Base and stressed figures of one scenario over a book.

    Attributes
    ----------
    scenario : Scenario
    aggregate : pandas.DataFrame
        Index ``metric``; columns ``base``, ``stressed``, ``delta``.
    record : dict
        Seed, paths, chunk sizes, executor, quantile confidence: what reproduces the run.
    positions : pandas.DataFrame
        Long table (built on first access): ``kind`` (asset, loan, tranche), ``id``,
        ``metric``, ``base``, ``stressed``, ``delta``.
    """

    scenario: Scenario
    aggregate: pd.DataFrame
    record: dict[str, Any] = field(default_factory=dict)
    _figures: VariantFigures | None = field(default=None, repr=False)
    _ids: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _pair: tuple[int, int] = (0, 0)

    @cached_property
    def positions(self) -> pd.DataFrame:
        if self._figures is None:
            return _positions_frame(VariantFigures((), {}), {}, 0, 0)
        return _positions_frame(self._figures, self._ids, *self._pair)

    def figures(self, kind: str, metric: str) -> tuple[FloatArray, FloatArray]:
        """(base, stressed) arrays of one metric over the positions of one kind."""
        if self._figures is None or metric not in self._figures.metrics.get(kind, {}):
            raise KeyError((kind, metric))
        arr = self._figures.metrics[kind][metric]
        return arr[self._pair[0]], arr[self._pair[1]]

    def to_json(self, run_id: str | None = None) -> dict[str, Any]:
        """The API contract's shape: ``{run_id, scenario, aggregate: {METRIC: {base, stressed, delta}},
        positions: [{kind, id, METRIC: {...}}]}`` (non-finite numbers become null)."""

        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        agg = {
            m: {"base": num(r.base), "stressed": num(r.stressed), "delta": num(r.delta)}
            for m, r in self.aggregate.iterrows()
        }
        positions: list[dict[str, Any]] = []
        current: dict[str, Any] | None = None
        columns = ["kind", "id", "metric", "base", "stressed", "delta"]
        rows = self.positions[columns].itertuples(index=False, name=None)
        for kind, pid, metric, base, stressed, delta in rows:
            if current is None or current["kind"] != kind or current["id"] != pid:
                current = {"kind": kind, "id": pid}
                positions.append(current)
            current[str(metric)] = {
                "base": num(base),
                "stressed": num(stressed),
                "delta": num(delta),
            }
        return {
            "run_id": run_id,
            "scenario": self.scenario.name,
            "scenario_definition": self.scenario.as_dict(),
            "record": self.record,
            "aggregate": agg,
            "positions": positions,
        }

    def to_csv(self) -> str:
        """Positions then aggregate rows (``kind`` = aggregate) as CSV text."""
        agg = self.aggregate.reset_index().assign(kind="aggregate", id="")
        table = pd.concat([self.positions, agg[self.positions.columns]], ignore_index=True)
        table.insert(0, "scenario", self.scenario.name)
        return str(table.to_csv(index=False, float_format="%.10g"))


def _aggregate(
    metrics: dict[str, dict[str, FloatArray]], ead: FloatArray, notional: FloatArray, v: int
) -> dict[str, float]:
    agg: dict[str, float] = {}
    a, ln, tr = metrics.get("asset", {}), metrics.get("loan", {}), metrics.get("tranche", {})
    if a:
        agg["collateral_value"] = float(a["collateral_value"][v].sum())
        agg["lending_value"] = float(a["lending_value"][v].sum())
    if ln:
        tot = float(ead.sum())
        secured = ~np.isnan(ln["ltv"][v])
        coll = float(ln["collateral_value"][v][secured].sum())
        exposure = float(ead[secured].sum())
        agg["ltv"] = (exposure / coll if coll > 0 else math.inf) if secured.any() else math.nan
        agg["pd"] = float(np.dot(ln["pd"][v], ead) / tot)
        agg["lgd"] = float(np.dot(ln["lgd"][v], ead) / tot)
        agg["expected_loss"] = float(ln["expected_loss"][v].sum())
        agg["capital"] = float(ln["capital"][v].sum())
        agg["margin_calls"] = float(ln["margin_calls"][v].sum())
    tail = metrics.get("portfolio", {})
    if tail:
        agg["loss_var"] = float(tail["loss_var"][v])
        agg["loss_es"] = float(tail["loss_es"][v])
    if tr:
        agg["tranche_expected_loss"] = float(
            np.dot(tr["tranche_expected_loss"][v], notional) / notional.sum()
        )
        agg["price"] = float(np.dot(tr["price"][v], notional) / notional.sum())
    return agg


class StressRunner:
    """Runs scenarios over one book on one market grid with one executor.

    Parameters
    ----------
    book : Book
    grid : MarketGrid
        Must cover the longest economic life, loan and tranche maturity and horizon.
    config : RunConfig, optional
    executor : Executor, optional
        `LocalExecutor` by default.
    """

    def __init__(
        self,
        book: Book,
        grid: MarketGrid,
        config: RunConfig | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.book = book
        self.grid = grid
        self.config = config or RunConfig()
        self.executor: Executor = executor or LocalExecutor()
        self._prepare()

    # -- preparation ---------------------------------------------------------------
    def _prepare(self) -> None:
        b, cfg = self.book, self.config
        need = max([a.economic_life_months for a in b.assets] + [1])
        if need > self.grid.months:
            raise ConventionError(
                f"The `grid` must cover the longest economic life ({need} "
                f"months). Got {self.grid.months} months.",
                field="grid",
            )
        self._asset_index = {a.id: i for i, a in enumerate(b.assets)}
        self._asset_tasks: list[_AssetTask] = []
        for s in range(0, len(b.assets), cfg.asset_chunk_size):
            chunk = b.assets[s : s + cfg.asset_chunk_size]
            paths = {}
            for i, a in enumerate(chunk):
                if a.revenue_paths is not None:
                    if a.revenue_paths.shape[0] != cfg.n_paths:
                        raise ConventionError(
                            f"The `revenue_paths` of asset {a.id!r} must have n_paths = "
                            f"{cfg.n_paths} rows. Got {a.revenue_paths.shape[0]}.",
                            field="revenue_paths",
                        )
                    paths[i] = a.revenue_paths
            self._asset_tasks.append(
                _AssetTask(
                    ids=tuple(a.id for a in chunk),
                    categories=tuple(a.category for a in chunk),
                    cross_border=np.array([a.cross_border for a in chunk], dtype=bool),
                    revenue_0=np.array([a.revenue_0 for a in chunk]),
                    growth=np.array([a.growth_rate for a in chunk]),
                    vol=np.array([a.volatility for a in chunk]),
                    hazard=np.array([a.obsolescence_hazard for a in chunk]),
                    half_life=np.array([a.half_life_months for a in chunk], dtype=np.float64),
                    life=np.array([a.economic_life_months for a in chunk]),
                    premium=np.array([a.risk_premium for a in chunk]),
                    liq_cost=np.array([a.liquidation_cost for a in chunk]),
                    paths=paths,
                )
            )
        loans = b.loans
        p_loan, p_asset, p_share = [], [], []
        for i, ln in enumerate(loans):
            for aid, share in ln.collateral.items():
                p_loan.append(i)
                p_asset.append(self._asset_index[aid])
                p_share.append(float(share or 0.0))
        pl = np.array(p_loan, dtype=np.int64)
        pa = np.array(p_asset, dtype=np.int64)
        ps = np.array(p_share, dtype=np.float64)
        ead = np.array([x.exposure for x in loans])
        cols = {
            "pd": np.array([x.pd for x in loans]),
            "lgd": np.array([x.lgd for x in loans]),
            "rate": np.array([x.annual_rate for x in loans]),
            "maturity": np.array([x.maturity_years for x in loans]),
            "margin_ltv": np.array([x.margin_call_ltv for x in loans]),
            "sales": np.array([np.nan if x.sales_meur is None else x.sales_meur for x in loans]),
            "lgd_reg": np.array(
                [np.nan if x.lgd_regulatory is None else x.lgd_regulatory for x in loans]
            ),
        }
        self._loan_ead = ead
        # Basel IRB corporate asset correlation of each loan at its base PD (CRE31.5)
        self._loan_rho = np.asarray(
            asset_correlation(np.maximum(cols["pd"], 1e-12)), dtype=np.float64
        ).reshape(-1)
        self._loan_tasks: list[_LoanTask] = []
        for s in range(0, len(loans), cfg.loan_chunk_size):
            e = min(s + cfg.loan_chunk_size, len(loans))
            lo, hi = np.searchsorted(pl, s), np.searchsorted(pl, e)
            self._loan_tasks.append(
                _LoanTask(
                    start=s,
                    stop=e,
                    ead=ead[s:e],
                    **{k: v[s:e] for k, v in cols.items()},
                    p_loan=pl[lo:hi] - s,
                    p_asset=pa[lo:hi],
                    p_share=ps[lo:hi],
                )
            )
        loan_index = {ln.id: i for i, ln in enumerate(loans)}
        deals: dict[str, list[int]] = {}
        for j, t in enumerate(b.tranches):
            deals.setdefault(t.securitization_id, []).append(j)
        self._deal_tasks = []
        for idx in deals.values():
            first = b.tranches[idx[0]]
            pool = np.array(sorted({loan_index[x] for j in idx for x in b.tranches[j].loan_ids}))
            self._deal_tasks.append(
                _DealTask(
                    tranche_index=np.array(idx),
                    loan_index=pool,
                    attach=np.array([b.tranches[j].attach for j in idx]),
                    detach=np.array([b.tranches[j].detach for j in idx]),
                    notional=np.array([b.tranches[j].notional for j in idx]),
                    coupon=np.array([b.tranches[j].coupon for j in idx]),
                    maturity=np.array([b.tranches[j].maturity_years for j in idx]),
                    correlation=float(first.correlation),
                )
            )

    # -- evaluation ----------------------------------------------------------------
    def evaluate(
        self,
        variants: Sequence[Variant],
        progress: Callable[[float], None] | None = None,
        *,
        tranches: bool = True,
        tail: bool = True,
    ) -> VariantFigures:
        """Per-position figures of each variant, shape (n_variants, n_positions) per metric.

        The zero shock of each horizon is the base of the PD shift; it is added (and
        dropped from the output) when not requested. ``tranches=False`` and ``tail=False``
        skip the securitization stage and the portfolio VaR/ES (for searches that do not
        need them).
        """
        variants = tuple(variants)
        for v in variants:
            if v.horizon_months > self.grid.months:
                raise ConventionError(
                    f"The `horizon_months` ({v.horizon_months}) must be within "
                    f"the market grid ({self.grid.months} months).",
                    field="horizon_months",
                )
        requested = len(variants)
        for h in sorted({v.horizon_months for v in variants}):
            if Variant(Shocks(), h) not in variants:
                variants = (*variants, Variant(Shocks(), h))
        base_of = np.array(
            [variants.index(Variant(Shocks(), v.horizon_months)) for v in variants], dtype=np.int64
        )
        deal_tasks = self._deal_tasks if tranches else []
        n_tasks = len(self._asset_tasks) + len(self._loan_tasks) + len(deal_tasks)
        done = [0]

        def tick(_d: int, _t: int) -> None:
            done[0] += 1
            if progress is not None:
                progress(done[0] / max(n_tasks, 1))

        ex = self.executor
        outs = ex.map(
            _asset_chunk,
            self._asset_tasks,
            shared={"variants": variants, "grid": self.grid, "config": self.config},
            progress=tick,
        )
        n_v = len(variants)
        if outs:
            assets = _AssetOut(
                *(
                    np.concatenate([getattr(o, f) for o in outs], axis=1)
                    for f in ("value_0", "lending_value", "haircut", "quantiles", "liq_cost")
                )
            )
        else:
            z = np.zeros((n_v, 0))
            assets = _AssetOut(z, z, z, np.zeros((n_v, 0, QUANTILE_LEVELS.size)), z)
        metrics: dict[str, dict[str, FloatArray]] = {}
        if self.book.assets:
            metrics["asset"] = {
                "collateral_value": assets.value_0,
                "lending_value": assets.lending_value,
                "value": assets.value_0,
            }
        loan_outs = ex.map(
            _loan_chunk,
            self._loan_tasks,
            shared={"assets": assets, "variants": variants, "base_of": base_of, "grid": self.grid},
            progress=tick,
        )
        if loan_outs:
            metrics["loan"] = {
                m: np.concatenate([o.metrics[m] for o in loan_outs], axis=1) for m in _LOAN_METRICS
            }
        if loan_outs and tail:
            metrics["portfolio"] = _portfolio_tail(
                metrics["loan"], self._loan_ead, self._loan_rho, variants
            )
        if deal_tasks:
            ln = metrics["loan"]
            deal_outs = ex.map(
                _deal_task,
                deal_tasks,
                shared={
                    "loan_pd": ln["pd"],
                    "loan_lgd": ln["lgd"],
                    "loan_ead": self._loan_ead,
                    "variants": variants,
                    "grid": self.grid,
                },
                progress=tick,
            )
            n_t = len(self.book.tranches)
            tr = {m: np.empty((n_v, n_t)) for m in _TRANCHE_METRICS}
            for task, o in zip(deal_tasks, deal_outs, strict=True):
                for m in _TRANCHE_METRICS:
                    tr[m][:, task.tranche_index] = o[m]
            metrics["tranche"] = tr
        if len(variants) > requested:
            metrics = {
                kind: {m: a[:requested] for m, a in mets.items()} for kind, mets in metrics.items()
            }
        return VariantFigures(variants[:requested], metrics)

    def run(
        self,
        scenarios: Sequence[Scenario] | Scenario,
        progress: Callable[[float], None] | None = None,
    ) -> list[StressResult]:
        """Base vs stressed for each scenario (one shared evaluation, common random numbers)."""
        if isinstance(scenarios, Scenario):
            scenarios = [scenarios]
        variants: list[Variant] = []
        index: dict[tuple[int, Shocks | int], int] = {}

        def add(shocks: Shocks, horizon: int, key: Shocks | int) -> int:
            if (horizon, key) not in index:
                index[(horizon, key)] = len(variants)
                variants.append(Variant(shocks, horizon))
            return index[(horizon, key)]

        pairs = []
        for sc in scenarios:
            b = add(Shocks(), sc.horizon_months, Shocks())
            s = add(sc.shocks, sc.horizon_months, id(sc.shocks)) if sc.shocks != Shocks() else b
            pairs.append((b, s))
        figures = self.evaluate(variants, progress)
        return [
            self._result(sc, figures, b, s) for sc, (b, s) in zip(scenarios, pairs, strict=True)
        ]

    def _record(self) -> dict[str, Any]:
        c = self.config
        return {
            "seed": c.seed,
            "n_paths": c.n_paths,
            "asset_chunk_size": c.asset_chunk_size,
            "loan_chunk_size": c.loan_chunk_size,
            "haircut_confidence": c.haircut_confidence,
            "executor": self.executor.name,
            "tail_confidence": TAIL_CONFIDENCE,
            "months": self.grid.months,
        }

    def _result(self, scenario: Scenario, fig: VariantFigures, b: int, s: int) -> StressResult:
        notional = np.array([x.notional for x in self.book.tranches])
        ab = _aggregate(fig.metrics, self._loan_ead, notional, b)
        as_ = _aggregate(fig.metrics, self._loan_ead, notional, s)
        agg = pd.DataFrame({"base": ab, "stressed": as_})
        agg = agg.reindex([m for m in METRICS if m in ab])
        with np.errstate(invalid="ignore"):
            agg["delta"] = agg["stressed"] - agg["base"]
        agg.index.name = "metric"
        return StressResult(
            scenario, agg, self._record(), _figures=fig, _ids=self._ids(), _pair=(b, s)
        )

    def _ids(self) -> dict[str, list[str]]:
        return {
            "asset": [a.id for a in self.book.assets],
            "loan": [x.id for x in self.book.loans],
            "tranche": [t.id for t in self.book.tranches],
        }


def _positions_frame(
    fig: VariantFigures, ids: dict[str, list[str]], b: int, s: int
) -> pd.DataFrame:
    """Long per-position table, ordered by kind, position, then metric."""
    frames = []
    for kind in ("asset", "loan", "tranche"):
        mets = fig.metrics.get(kind)
        if not mets:
            continue
        names = [m for m in METRICS if m in mets]
        n, k = len(ids[kind]), len(names)
        base = np.stack([mets[m][b] for m in names], axis=1).ravel()
        stressed = np.stack([mets[m][s] for m in names], axis=1).ravel()
        frames.append(
            pd.DataFrame(
                {
                    "kind": pd.Categorical.from_codes(
                        np.zeros(n * k, dtype=np.int8), pd.Index([kind])
                    ),
                    "id": np.repeat(np.asarray(ids[kind], dtype=object), k),
                    "metric": pd.Categorical.from_codes(
                        np.tile(np.arange(k, dtype=np.int16), n), pd.Index(names)
                    ),
                    "base": base,
                    "stressed": stressed,
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            {"kind": [], "id": [], "metric": [], "base": [], "stressed": [], "delta": []}
        )
    pos = pd.concat(frames, ignore_index=True)
    pos["kind"] = pos["kind"].astype(str)
    pos["metric"] = pos["metric"].astype(str)
    with np.errstate(invalid="ignore"):
        pos["delta"] = pos["stressed"] - pos["base"]
    return pos


def run_stress(
    book: Book,
    scenarios: Sequence[Scenario] | Scenario,
    grid: MarketGrid,
    *,
    config: RunConfig | None = None,
    executor: Executor | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[StressResult]:
    """Run scenarios over a book: `StressRunner` in one call."""
    return StressRunner(book, grid, config, executor).run(scenarios, progress)


def results_frame(results: Sequence[StressResult]) -> pd.DataFrame:
    """Aggregate tables of several scenarios side by side (index scenario, metric)."""
    return pd.concat({r.scenario.name: r.aggregate for r in results}, names=["scenario"])


__all__ = [
    "METRICS",
    "MarketGrid",
    "RunConfig",
    "StressResult",
    "StressRunner",
    "Variant",
    "economic_lgd",
    "results_frame",
    "run_stress",
    "tranche_price",
]
