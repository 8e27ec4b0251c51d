"""The chunk kernels of a stress run, one per stage of `risk.runner`'s pipeline.

Assets (simulated cash flows, values, quantiles and haircuts per variant), loans
(collateral, LTV, PD, economic LGD, EL, capital, value) and tranches (loss distribution,
tranche EL, price), plus the loan book's tail (VaR and ES). Each takes a picklable task and
returns plain arrays, so an `risk.executors.Executor` can run it anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from credit.capital import irb_capital
from credit.portfolio import (
    expected_shortfall,
    loss_distribution,
    tranche_expected_loss,
    value_at_risk,
    vasicek_tranche_loss,
)
from risk.inputs import (
    _I16,
    _I84,
    _LOAN_METRICS,
    _TRANCHE_METRICS,
    QUANTILE_LEVELS,
    RECURSION_MAX_LOANS,
    MarketGrid,
    RunConfig,
    Variant,
    _asset_seed,
)
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
from valuation.forecast import decay_factors
from valuation.haircut import haircut_from_quantile
from valuation.paths import lognormal_paths, random_walk


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
    sqrt_dt = math.sqrt(1.0 / 12.0)  # annual volatility to monthly
    # (A, M, P): months then paths, the layout of valuation.paths' generator
    w = np.empty((n_a, n_m, n_p))
    u = np.empty((n_a, n_p, 2))
    for i, aid in enumerate(task.ids):
        rng = np.random.default_rng(_asset_seed(config.seed, aid))
        w[i] = rng.standard_normal((n_p, n_m)).T
        u[i] = rng.random((n_p, 2))
    random_walk(w)
    u_base, u_add = 1.0 - u[:, :, 0], 1.0 - u[:, :, 1]  # in (0, 1]
    life_mask = k[None, :] <= task.life[:, None]  # (A, M)
    q_lo = 1.0 - config.haircut_confidence
    levels = np.concatenate([QUANTILE_LEVELS, [q_lo]])
    n_v = len(variants)
    cf = np.empty((n_a, n_m, n_p))
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
        # expected cash flow: the level grown at g (per year), the obsolescence decay,
        # nothing after the economic life; the generator adds the volatility
        mean = r0[:, None] * decay_factors(k[None, :], hl[:, None]) * life_mask
        with np.errstate(divide="ignore"):
            log_mean = np.log(mean) + g[:, None] * t[None, :]
        jump_month: FloatArray | None = None
        if np.any(haz > 0.0):
            tau = obsolescence_times(u_base, haz[:, None])  # (A, P), years
            # revenue ends in the first month k with t_k > tau (it is alive while t_k <= tau)
            alive = np.searchsorted(t, tau.ravel(), side="right").reshape(tau.shape)
            jump_month = alive.astype(np.float64) + 1.0
        # one (A, M, P) buffer per chunk, written in place: big temporaries are what cost
        # most (page faults), in particular on Dask workers that trim freed memory
        lognormal_paths(w, log_mean, sig * sqrt_dt, jump_month=jump_month, jump_loss=1.0, out=cf)
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
            cf[i, :m, :] = shocked[:, :m].T
        df = shifted_discount_factors(grid.discount_factors, t, sh)
        df_a = df[None, :] * np.exp(-task.premium[:, None] * t[None, :])  # (A, M)
        cf *= df_a[:, :, None]
        v0_paths = cf.sum(axis=1)
        h = var.horizon_months
        # the value at the end of the horizon, discounted to today (h = 0: today's value)
        vh = np.zeros((n_a, n_p)) if h >= n_m else cf[:, h:, :].sum(axis=1)
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


def economic_lgd_from_quantiles(
    recovery_quantiles: FloatArray,
    ead: FloatArray,
    pd: FloatArray,
    levels: FloatArray = QUANTILE_LEVELS,
) -> FloatArray:
    """Return the economic LGD ``E[max(0, 1 - R(U) / EAD) | U < PD]`` from recovery quantiles.

    The definition of `credit.lgd.economic_lgd` (the loss on the default paths over their
    exposure), where the default paths are the worst ``PD`` of the recovery outcomes: the
    stress engine keeps quantiles of the collateral value on ``levels``, not its paths.

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
        econ = np.where(
            has_coll, economic_lgd_from_quantiles(rec_q, task.ead, np.maximum(pd_v, 1e-12)), 0.0
        )
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
    """Price per 100 of a tranche that loses ``el_fraction`` linearly to maturity.

    The tranche pays ``coupon`` monthly on its outstanding: ``100 [sum_k c/12 (1 - EL t_k/T)
    D_k + (1 - EL) D_T]``.
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
