"""Tranche analytics: default scenarios, expected loss, price, yield, spread, WAL, duration,
SEC-SA capital and break-even solvers.

Default scenarios (all feed the same waterfall):

* ``cdr`` -- a deterministic annual constant default rate vector;
* ``mc`` -- one-factor Gaussian copula Monte Carlo of correlated default times on the
  pool's assets: ``X_i = sqrt(rho) Z + sqrt(1 - rho) eps_i``, ``tau_i = -ln(1 - Phi(X_i)) /
  h_i`` with the flat hazard ``h_i = -ln(1 - PD_i)`` from the annual PD; an asset defaults
  in month ``ceil(12 tau_i)`` if that is within its term. Paths are simulated in chunks so
  memory stays bounded;
* ``lhp`` -- the large-pool limit: conditional on the factor ``Z = z`` every asset's
  performing share follows ``1 - F_i(t | z)``, ``F_i(t | z) = Phi((Phi^{-1}(1 - e^{-h_i t})
  - sqrt(rho) z) / sqrt(1 - rho))``, integrated over ``z`` by Gauss-Legendre in ``Phi(z)``
  (`factor_nodes`);
* ``recursion`` -- the exact finite-pool loss distribution at the pool's maturity from
  `credit.portfolio.loss_distribution` (Andersen-Sidenius-Basu recursion), bucketed into
  scenarios, each replayed with the large pool's default timing at that loss level.

Pricing: the tranche's expected cashflows are discounted on the QuantLib curve of a
`valuation.market.MarketData` spreaded by the tranche's market spread; floating coupons
use the curve's monthly forwards as the index. Conventions (stated once here):

* ``price`` per 100 of initial face; ``yield`` the annual rate, monthly compounding, at
  which the expected cashflows are worth the price; ``duration`` modified duration in years
  at that yield; ``wal_years`` the average life of the balance (principal paid and
  written down, so it is the area under the expected balance curve over the face);
* ``fair_spread_bp`` the spread over the curve's forwards that prices the tranche at par
  given its expected principal and balance path:
  ``s = (N_0 - sum_t DF_t (E[P_t] + f_t E[N_{t-1}] / 12)) / sum_t DF_t E[N_{t-1}] / 12``;
* ``expected_loss`` the expected principal write-down over the face; ``prob_loss`` the
  probability of any write-down (above 1e-9 of the face). For a tranche with a guarantee
  wrap, both count only what the investor loses: write-downs the guarantor does not pay
  (it defaults independently of the pool, at its flat hazard, recovering a share).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri, roots_legendre

from products.capital import guarantor_risk_weight, sec_sa_risk_weight
from products.structure import Deal, Tranche
from products.waterfall import (
    AssetSchedules,
    PoolCashflows,
    WaterfallResult,
    asset_schedules,
    pool_cashflows_from_default_periods,
    pool_cashflows_from_survival,
    run_waterfall,
)
from valuation._typing import FloatArray, IntArray
from valuation.conventions import Compounding, DayCount, add_months, year_fraction
from valuation.errors import CalibrationError, ConventionError
from valuation.market import MarketData

ScenarioMethod = Literal["mc", "lhp", "recursion", "cdr"]
METHODS: tuple[str, ...] = ("mc", "lhp", "recursion", "cdr")

#: A write-down counts as a loss above this fraction of the tranche face.
LOSS_EPS = 1e-9
#: Default chunk of Monte Carlo paths simulated at once (bounds memory).
DEFAULT_CHUNK = 5_000
#: Default pool capital for SEC-SA: 8 % (a pool of 100 %-weighted corporate exposures).
DEFAULT_K_SA = 0.08


def _check_rho(rho: float) -> float:
    if isinstance(rho, bool) or not isinstance(rho, int | float) or not 0.0 <= rho < 1.0:
        raise ConventionError(f"The `correlation` must be in [0, 1). Got {rho!r}.", field="correlation")
    return float(rho)


def _hazard(pd: FloatArray) -> FloatArray:
    return -np.log1p(-np.asarray(pd, dtype=np.float64))


# ---------------------------------------------------------------------------------------------
# scenario generators
# ---------------------------------------------------------------------------------------------


def cdr_survival(cdr: float | Sequence[float] | FloatArray, n_periods: int) -> FloatArray:
    """Performing share after each month under an annual constant default rate.

    Parameters
    ----------
    cdr : float or array
        Annual default rate(s), decimal in [0, 1): a scalar, one per month ``(n_periods,)``,
        or one row per scenario ``(n_scenarios, n_periods)``.
    n_periods : int

    Returns
    -------
    FloatArray
        ``(n_scenarios, n_periods + 1)``, column 0 equal to 1; monthly default rate
        ``MDR = 1 - (1 - CDR)^(1/12)``.
    """
    c = np.asarray(cdr, dtype=np.float64)
    if c.ndim == 0:
        c = np.full((1, n_periods), float(c))
    elif c.ndim == 1:
        c = c[None, :]
    if c.shape[1] != n_periods:
        raise ConventionError(f"The `cdr` must have {n_periods} monthly values. Got {c.shape[1]}.",
                              field="cdr")
    if not np.all((c >= 0.0) & (c < 1.0)):
        raise ConventionError("The `cdr` must be annual rates in [0, 1).", field="cdr")
    mdr = -np.expm1(np.log1p(-c) / 12.0)
    s = np.ones((c.shape[0], n_periods + 1))
    s[:, 1:] = np.cumprod(1.0 - mdr, axis=1)
    return s


def copula_default_periods(sched: AssetSchedules, rho: float, n_paths: int,
                           rng: np.random.Generator) -> IntArray:
    """Default month of every asset on every path (0: no default), one-factor Gaussian copula.

    Parameters
    ----------
    sched : AssetSchedules
    rho : float
        Asset correlation in [0, 1) (factor loading ``sqrt(rho)``).
    n_paths : int
    rng : numpy.random.Generator

    Returns
    -------
    IntArray
        ``(n_paths, n_assets)`` month in ``1..term`` or 0.
    """
    rho = _check_rho(rho)
    h = _hazard(sched.pd)
    term = sched.term_months.astype(np.float64)
    p_term = -np.expm1(-h * term / 12.0)
    with np.errstate(divide="ignore"):
        threshold = ndtri(p_term)
    z = rng.standard_normal((n_paths, 1))
    x = rng.standard_normal((n_paths, sched.n_assets))
    x *= math.sqrt(1.0 - rho)
    x += math.sqrt(rho) * z
    hit = x <= threshold[None, :]
    rows, cols = np.nonzero(hit)
    out = np.zeros((n_paths, sched.n_assets), dtype=np.int64)
    if rows.size:
        u = ndtr(x[rows, cols])
        tau_months = -np.log1p(-u) / h[cols] * 12.0
        out[rows, cols] = np.clip(np.ceil(tau_months), 1, term[cols]).astype(np.int64)
    return out


def homogeneous_copula_survival(pd: float, rho: float, n_loans: int, term_months: int,
                                n_paths: int, rng: np.random.Generator) -> FloatArray:
    """Copula Monte Carlo for a homogeneous pool: performing share per path and month.

    Conditional on the factor, defaults are independent with the same probability, so the
    number of defaults in each month is binomial given the survivors: exact for a pool of
    ``n_loans`` identical loans at any size (no per-loan draws).

    Returns
    -------
    FloatArray
        ``(n_paths, term_months + 1)`` performing share, column 0 equal to 1.
    """
    rho = _check_rho(rho)
    h = float(_hazard(np.array([pd]))[0])
    t = np.arange(term_months + 1) / 12.0
    with np.errstate(divide="ignore"):
        c = ndtri(-np.expm1(-h * t))  # (T+1,)
    z = rng.standard_normal(n_paths)
    cond = ndtr((c[None, :] - math.sqrt(rho) * z[:, None]) / math.sqrt(1.0 - rho))  # F(t|z)
    alive = np.full(n_paths, n_loans, dtype=np.int64)
    out = np.ones((n_paths, term_months + 1))
    for m in range(1, term_months + 1):
        denom = 1.0 - cond[:, m - 1]
        q = np.where(denom > 0.0, (cond[:, m] - cond[:, m - 1]) / np.where(denom > 0, denom, 1.0), 1.0)
        alive = alive - rng.binomial(alive, np.clip(q, 0.0, 1.0))
        out[:, m] = alive / n_loans
    return out


def factor_nodes(n_nodes: int = 256) -> tuple[FloatArray, FloatArray]:
    """Factor nodes and weights for the large-pool integral: Gauss-Legendre in ``u = Phi(z)``.

    The conditional tranche loss of a large pool is a kinked function of the factor (it
    starts and stops at the attachment points), so the error falls like ``n^-2`` whatever the
    rule; placing the nodes uniformly in probability rather than in ``z`` wastes none in
    the tails. Measured on the Vasicek reference cases: about 5e-6 of the tranche with 256
    nodes, 8e-7 with 1,024 (128 Gauss-Legendre nodes in ``z``: 6e-4).
    """
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int) or n_nodes < 2:
        raise ConventionError(f"The `n_nodes` must be an integer >= 2. Got {n_nodes!r}.", field="n_nodes")
    x, w = roots_legendre(n_nodes)
    return ndtri(0.5 * (x + 1.0)), 0.5 * w


def large_pool_survival(sched: AssetSchedules, rho: float, z: FloatArray) -> FloatArray:
    """Conditional performing share of every asset given the factor (large pool).

    Parameters
    ----------
    sched : AssetSchedules
    rho : float
        Asset correlation.
    z : FloatArray
        Factor values (n_nodes,).

    Returns
    -------
    FloatArray
        ``(n_nodes, n_assets, n_periods + 1)``: ``1 - F_i(t | z)``, flat after maturity.
    """
    rho = _check_rho(rho)
    h = _hazard(sched.pd)
    t = np.arange(sched.n_periods + 1)
    tt = np.minimum(t[None, :], sched.term_months[:, None]) / 12.0  # no defaults after maturity
    with np.errstate(divide="ignore"):
        c = ndtri(-np.expm1(-h[:, None] * tt))  # (m, T+1)
    z = np.asarray(z, dtype=np.float64)
    f = ndtr((c[None, :, :] - math.sqrt(rho) * z[:, None, None]) / math.sqrt(1.0 - rho))
    return 1.0 - f


def expected_exposure_at_default(sched: AssetSchedules) -> FloatArray:
    """Expected balance at default given default within the term, per asset (n_assets,).

    ``sum_t P(default in month t) B_{t-1} / P(default by maturity)`` under the asset's flat
    hazard, with the prepayment-adjusted balance ``B``; the initial balance for a zero PD.
    """
    h = _hazard(sched.pd)
    t = np.arange(sched.n_periods + 1)
    tt = np.minimum(t[None, :], sched.term_months[:, None]) / 12.0
    cum = -np.expm1(-h[:, None] * tt)
    dp = np.diff(cum, axis=1)
    total = cum[:, -1]
    ead = (dp * sched.balance[:, :-1]).sum(axis=1)
    return np.where(total > 0.0, ead / np.where(total > 0.0, total, 1.0), sched.balance[:, 0])


def recursion_survival(sched: AssetSchedules, rho: float, n_buckets: int = 64) -> tuple[FloatArray, FloatArray]:
    """Scenarios from the exact finite-pool loss distribution (`credit.portfolio`).

    The distribution of the pool loss by maturity (PD over each asset's term, EAD its
    expected balance at default, LGD one minus its recovery) is cut into buckets: the
    edges of ``n_buckets`` equal-probability buckets merged with ``2 n_buckets``
    equal-width loss buckets up to the 1 - 1e-12 quantile, so the tail, where senior classes
    lose, keeps its resolution. Each bucket is replayed with the timing and composition of
    the large pool: the factor value ``z_b`` at which the recursion's conditional expected
    loss ``sum_i EAD_i LGD_i p_i(z)`` equals the bucket's mean loss (``brentq``), and every
    asset's conditional performing share ``1 - F_i(t | z_b)``. The frequency of loss levels
    is the finite pool's; timing, amortisation and mix across assets are the copula's.

    Returns
    -------
    survival : FloatArray
        ``(n_scenarios, n_assets, n_periods + 1)``.
    weights : FloatArray
        Scenario probabilities (n_scenarios,).
    """
    from credit.portfolio import loss_distribution

    rho = _check_rho(rho)
    h = _hazard(sched.pd)
    pds = -np.expm1(-h * sched.term_months / 12.0)
    ok = pds > 0.0
    if not ok.any():
        return np.ones((1, sched.n_assets, sched.n_periods + 1)), np.ones(1)
    eads = expected_exposure_at_default(sched)[ok]
    lgds = np.clip(1.0 - sched.recovery_rate[ok], 1e-12, 1.0)
    losses, probs = loss_distribution(pds[ok], eads, lgds, rho, method="recursion")
    cdf = np.cumsum(probs)
    q_edges = losses[np.minimum(np.searchsorted(cdf, np.linspace(0, 1, n_buckets + 1)[1:-1]),
                                losses.size - 1)]
    l_max = losses[min(int(np.searchsorted(cdf, 1.0 - 1e-12)), losses.size - 1)]
    w_edges = np.linspace(0.0, l_max, 2 * n_buckets + 1)[1:-1]
    edges = np.unique(np.concatenate([q_edges, w_edges]))
    bucket = np.searchsorted(edges, losses, side="right")
    n_b = edges.size + 1
    mass = np.bincount(bucket, weights=probs, minlength=n_b)
    loss_sum = np.bincount(bucket, weights=probs * losses, minlength=n_b)
    keep = mass > 0.0
    mean_loss = loss_sum[keep] / mass[keep]
    # the recursion's loss given the factor, in its own terms (EAD x LGD x conditional PD)
    amounts = eads * lgds
    c = ndtri(pds[ok])
    a, b = math.sqrt(rho), math.sqrt(1.0 - rho)

    def static_loss(z: float) -> float:
        return float(amounts @ ndtr((c - a * z) / b))

    z_lo, z_hi = -12.0, 12.0
    top, bottom = static_loss(z_lo), static_loss(z_hi)
    z = np.empty(mean_loss.size)
    for j, target in enumerate(mean_loss):
        if target >= top:
            z[j] = z_lo
        elif target <= bottom:
            z[j] = z_hi
        else:
            z[j] = brentq(lambda x, tg=target: static_loss(x) - tg, z_lo, z_hi, xtol=1e-12)
    zero = mean_loss <= 0.0
    surv = large_pool_survival(sched, rho, np.where(zero, 0.0, z))
    surv[zero] = 1.0
    return surv, mass[keep] / mass[keep].sum()


def scenario_chunks(deal: Deal, method: ScenarioMethod, *, correlation: float = 0.15,
                    n_paths: int = 10_000, seed: int = 0, chunk_size: int = DEFAULT_CHUNK,
                    cdr: float | Sequence[float] | FloatArray | None = None,
                    n_nodes: int = 256) -> Iterator[PoolCashflows]:
    """Pool cashflows for the chosen default model, in chunks (weights sum to 1 overall).

    ``mc`` draws from ``numpy.random.default_rng(seed)`` chunk after chunk, so a result
    depends on ``(seed, n_paths, chunk_size)`` only.
    """
    if method not in METHODS:
        raise ConventionError(f"The `method` must be one of {', '.join(METHODS)}. Got {method!r}.",
                              field="method")
    sched = asset_schedules(deal.pool)
    if method == "cdr":
        if cdr is None:
            raise ConventionError("The `cdr` is required for the deterministic method.", field="cdr")
        s = cdr_survival(cdr, sched.n_periods)
        yield pool_cashflows_from_survival(sched, s)
        return
    if method == "lhp":
        z, w = factor_nodes(n_nodes)
        step = max(1, min(len(z), 2_000_000 // max(sched.n_assets * (sched.n_periods + 1), 1)))
        for i in range(0, len(z), step):
            s3 = large_pool_survival(sched, correlation, z[i : i + step])
            yield pool_cashflows_from_survival(sched, s3, w[i : i + step])
        return
    if method == "recursion":
        s2, w = recursion_survival(sched, correlation)
        yield pool_cashflows_from_survival(sched, s2, w)
        return
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 1:
        raise ConventionError(f"The `paths` must be a positive integer. Got {n_paths!r}.", field="paths")
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_paths:
        m = min(chunk_size, n_paths - done)
        d = copula_default_periods(sched, correlation, m, rng)
        cf = pool_cashflows_from_default_periods(sched, d)
        yield replace(cf, weights=np.full(m, 1.0 / n_paths))
        done += m


# ---------------------------------------------------------------------------------------------
# analytics
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrancheMetrics:
    """Analytics of one tranche (see the module docstring for the conventions)."""

    name: str
    balance: float
    attach: float
    detach: float
    expected_loss: float
    prob_loss: float
    price: float
    yield_rate: float
    fair_spread_bp: float
    wal_years: float
    duration: float
    risk_weight: float
    expected_loss_std_error: float
    price_std_error: float


@dataclass(frozen=True, slots=True)
class DealAnalytics:
    """Per-tranche analytics with the run's settings (seed recorded for reproduction)."""

    method: str
    n_scenarios: int
    seed: int | None
    correlation: float
    tranches: tuple[TrancheMetrics, ...]
    pool_expected_loss: float  # expected pool net loss over the initial pool balance
    expected_cashflows: FloatArray = field(repr=False)  # (n_tranches, n_periods) investor cash
    loss_samples: FloatArray | None = field(default=None, repr=False)  # (n_paths, n_tranches), mc

    def by_name(self, name: str) -> TrancheMetrics:
        for t in self.tranches:
            if t.name == name:
                return t
        raise KeyError(name)


def default_market(as_of: date, rate: float = 0.02, currency: str = "CNY") -> MarketData:
    """A flat curve (QuantLib FlatForward, ACT/365F, annual compounding) for quick pricing."""
    return MarketData.flat_rate(as_of, rate, currency=currency, day_count=DayCount.ACT_365F,
                                compounding=Compounding.ANNUAL)


def _payment_dates(as_of: date, n_periods: int) -> list[date]:
    return [add_months(as_of, m) for m in range(1, n_periods + 1)]


def _guarantee_factor(tr: Tranche, times: FloatArray) -> FloatArray | None:
    """Share of the guaranteed claims the investor receives per month (survival + recovery)."""
    g = tr.guarantee
    if g is None:
        return None
    h = float(_hazard(np.array([g.guarantor_pd]))[0])
    surv = np.exp(-h * times)
    return surv + g.guarantor_recovery * (1.0 - surv)


def investor_cashflows(deal: Deal, wf: WaterfallResult, times: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Investor cash and principal loss per scenario, tranche and month, guarantees applied.

    The most junior class, when flagged ``equity``, also receives the residual cash.
    With a wrap, the investor receives the scheduled coupon, principal and write-downs
    while the guarantor survives (``G = due + written down - paid``, recoveries after the
    guarantor defaults); catch-up interest then goes to the guarantor.
    """
    cash = wf.interest_paid + wf.principal_paid
    if deal.tranches[-1].equity:
        cash[:, -1, :] += wf.residual
    loss = wf.writedown.copy()
    for k, tr in enumerate(deal.tranches):
        f = _guarantee_factor(tr, times)
        if f is None:
            continue
        g = wf.interest_due[:, k, :] + wf.writedown[:, k, :] - wf.interest_paid[:, k, :]
        cash[:, k, :] += g * f
        loss[:, k, :] *= 1.0 - f
    return cash, loss


def _loss_probability(deal: Deal, wf: WaterfallResult, times: FloatArray, faces: FloatArray) -> FloatArray:
    """Per scenario and tranche, the probability that the investor loses principal (n, K).

    Unwrapped: 1 when there is any write-down. Wrapped: the guarantor must have defaulted
    by the last write-down month, ``1 - S_g(t_last)`` (guarantor independent of the pool).
    """
    hit = wf.writedown > LOSS_EPS * faces[None, :, None]
    out = hit.any(axis=2).astype(np.float64)
    for k, tr in enumerate(deal.tranches):
        if tr.guarantee is None:
            continue
        h = float(_hazard(np.array([tr.guarantee.guarantor_pd]))[0])
        last = np.where(hit[:, k, :].any(axis=1),
                        hit.shape[2] - 1 - np.argmax(hit[:, k, ::-1], axis=1), 0)
        out[:, k] *= -np.expm1(-h * times[last])
    return out


def _irr_monthly(cash: FloatArray, price_amount: float) -> float:
    """Annual yield (monthly compounding) with ``sum cash_t (1 + y/12)^-t = price_amount``."""
    t = np.arange(1, cash.size + 1)

    def f(y: float) -> float:
        return float(cash @ (1.0 + y / 12.0) ** -t) - price_amount

    if price_amount <= 0.0 or cash.sum() <= 0.0:
        return float("nan")
    try:
        return float(brentq(f, -0.99 * 12.0 + 1e-6, 10.0, xtol=1e-12))
    except ValueError:
        return float("nan")


def _modified_duration(cash: FloatArray, y: float) -> float:
    if not math.isfinite(y):
        return float("nan")
    t = np.arange(1, cash.size + 1)
    v = cash * (1.0 + y / 12.0) ** -t
    pv = float(v.sum())
    if pv <= 0.0:
        return float("nan")
    return float((v @ (t / 12.0)) / pv / (1.0 + y / 12.0))


def analyze(deal: Deal, scenarios: Sequence[PoolCashflows] | Iterator[PoolCashflows], *,
            market: MarketData, method: str = "custom", seed: int | None = None,
            correlation: float = float("nan"), k_sa: float = DEFAULT_K_SA, w: float = 0.0,
            keep_losses: bool = False) -> DealAnalytics:
    """Run the waterfall on every scenario chunk and reduce to per-tranche analytics.

    Parameters
    ----------
    deal : Deal
    scenarios : iterable of PoolCashflows
        Chunks whose weights sum to 1 over all chunks.
    market : MarketData
        Discount curve (as_of = closing date); its forwards are the floating index.
    k_sa, w : float
        SEC-SA pool capital and delinquent share for the risk weights.
    keep_losses : bool
        Keep the per-scenario tranche losses (fractions of face) in the result.
    """
    k_n = len(deal.tranches)
    faces = np.array([t.balance for t in deal.tranches])
    sums: dict[str, FloatArray] | None = None
    loss_parts: list[FloatArray] = []
    n_total = 0
    pool_loss = 0.0
    mc = method == "mc"
    for cf in scenarios:
        t_max = cf.n_periods
        if sums is None:
            dates = _payment_dates(market.as_of, t_max)
            times = np.array([year_fraction(market.as_of, d, DayCount.ACT_365F) for d in dates])
            df0 = market.discount_factors(dates)
            prev = np.concatenate([[1.0], df0[:-1]])
            index = (prev / df0 - 1.0) * 12.0
            dfk = np.stack([market.with_risk_premium(market.risk_premium + t.market_spread_bp / 1e4)
                            .discount_factors(dates) for t in deal.tranches])
            sums = {k: np.zeros((k_n, t_max)) for k in ("cash", "prin", "paid", "wd", "bal")}
            sums.update({"el": np.zeros(k_n), "el2": np.zeros(k_n), "pl": np.zeros(k_n),
                         "pv": np.zeros(k_n), "pv2": np.zeros(k_n)})
        wf = run_waterfall(deal, cf, index)
        cash, loss = investor_cashflows(deal, wf, times)
        wts = cf.weights
        bal_start = np.concatenate([np.broadcast_to(faces, (cf.n_scenarios, k_n))[:, :, None],
                                    wf.note_balance[:, :, :-1]], axis=2)
        sums["cash"] += np.einsum("s,skt->kt", wts, cash)
        # principal the investor receives: paid by the waterfall, plus write-downs a wrap covers
        sums["prin"] += np.einsum("s,skt->kt", wts, wf.principal_paid + wf.writedown - loss)
        sums["paid"] += np.einsum("s,skt->kt", wts, wf.principal_paid)
        sums["wd"] += np.einsum("s,skt->kt", wts, wf.writedown)
        sums["bal"] += np.einsum("s,skt->kt", wts, bal_start)
        lf = loss.sum(axis=2) / faces  # (s, K)
        pv = np.einsum("skt,kt->sk", cash, dfk) / faces * 100.0
        sums["el"] += wts @ lf
        sums["el2"] += wts @ (lf * lf)
        sums["pl"] += wts @ _loss_probability(deal, wf, times, faces)
        sums["pv"] += wts @ pv
        sums["pv2"] += wts @ (pv * pv)
        pool_loss += float(wts @ cf.net_loss()) / cf.initial_balance
        n_total += cf.n_scenarios
        if keep_losses:
            loss_parts.append(lf)
    if sums is None:
        raise ConventionError("No scenarios to analyse.", field="scenarios")
    metrics = []
    for k, tr in enumerate(deal.tranches):
        price = float(sums["pv"][k])
        exp_cash = sums["cash"][k]
        y = _irr_monthly(exp_cash, price / 100.0 * faces[k])
        ann = float(df0 @ sums["bal"][k]) / 12.0
        fixed = float(df0 @ (sums["prin"][k] + index / 12.0 * sums["bal"][k]))
        fair = (faces[k] - fixed) / ann * 1e4 if ann > 0.0 else float("nan")
        months = np.arange(1, exp_cash.size + 1)
        wal = float(months @ (sums["paid"][k] + sums["wd"][k])) / 12.0 / faces[k]
        rw = sec_sa_risk_weight(k_sa, w, tr.attach, tr.detach)
        if tr.guarantee is not None:
            rw = min(rw, guarantor_risk_weight(tr.guarantee.guarantor_pd))
        var_el = max(float(sums["el2"][k] - sums["el"][k] ** 2), 0.0)
        var_pv = max(float(sums["pv2"][k] - sums["pv"][k] ** 2), 0.0)
        se_el = math.sqrt(var_el / n_total) if mc else 0.0
        se_pv = math.sqrt(var_pv / n_total) if mc else 0.0
        metrics.append(TrancheMetrics(
            name=tr.name, balance=float(faces[k]), attach=tr.attach, detach=tr.detach,
            expected_loss=min(max(float(sums["el"][k]), 0.0), 1.0),
            prob_loss=min(max(float(sums["pl"][k]), 0.0), 1.0), price=price,
            yield_rate=y, fair_spread_bp=float(fair), wal_years=wal,
            duration=_modified_duration(exp_cash, y), risk_weight=rw,
            expected_loss_std_error=se_el, price_std_error=se_pv,
        ))
    return DealAnalytics(
        method=method, n_scenarios=n_total, seed=seed, correlation=correlation,
        tranches=tuple(metrics), pool_expected_loss=pool_loss, expected_cashflows=sums["cash"],
        loss_samples=np.concatenate(loss_parts) if keep_losses else None,
    )


def analyze_deal(deal: Deal, *, market: MarketData, method: ScenarioMethod = "mc",
                 correlation: float = 0.15, n_paths: int = 10_000, seed: int = 0,
                 chunk_size: int = DEFAULT_CHUNK,
                 cdr: float | Sequence[float] | FloatArray | None = None,
                 k_sa: float = DEFAULT_K_SA, w: float = 0.0, keep_losses: bool = False) -> DealAnalytics:
    """Per-tranche expected loss, probability of loss, price, yield, fair spread, WAL,
    duration and SEC-SA risk weight under the chosen default model.

    Parameters
    ----------
    deal : Deal
    market : MarketData
        Discount curve at the closing date (QuantLib); its monthly forwards are the
        floating index and each class is discounted at the curve plus its market spread.
    method : {"mc", "lhp", "recursion", "cdr"}
        Default model (see the module docstring).
    correlation : float
        Asset correlation of the one-factor Gaussian copula, [0, 1).
    n_paths, seed, chunk_size : int
        Monte Carlo paths, the seed of ``numpy.random.default_rng`` (recorded in the
        result) and the paths simulated at once (bounds memory).
    cdr : float or array, optional
        Annual default rate(s) for ``method="cdr"``.
    k_sa, w : float
        SEC-SA pool capital (decimal) and delinquent share for the risk weights.
    keep_losses : bool
        Keep per-path tranche losses (fractions of face) in the result.

    Returns
    -------
    DealAnalytics

    Examples
    --------
    >>> from datetime import date
    >>> from products.structure import deal_from_dict
    >>> deal = deal_from_dict({
    ...     "pool": {"loans": [{"loan_id": f"L{i}", "balance": 1e6, "annual_rate": 0.06,
    ...                         "term_months": 24, "pd": 0.03} for i in range(50)]},
    ...     "tranches": [{"name": "A", "attach": 0.1, "detach": 1.0, "coupon": 0.03},
    ...                  {"name": "E", "attach": 0.0, "detach": 0.1, "coupon": 0.10}]})
    >>> res = analyze_deal(deal, market=default_market(date(2025, 1, 1)), n_paths=2000, seed=7)
    >>> res.by_name("E").expected_loss > res.by_name("A").expected_loss
    True
    """
    chunks = scenario_chunks(deal, method, correlation=correlation, n_paths=n_paths, seed=seed,
                             chunk_size=chunk_size, cdr=cdr)
    return analyze(deal, chunks, market=market, method=method,
                   seed=seed if method == "mc" else None, correlation=correlation, k_sa=k_sa, w=w,
                   keep_losses=keep_losses)


# ---------------------------------------------------------------------------------------------
# static (maturity) tranche loss from credit.portfolio, and the solvers
# ---------------------------------------------------------------------------------------------


def pool_horizon_inputs(deal: Deal) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(PD over each asset's term, balance, LGD) of the pool's assets."""
    sched = asset_schedules(deal.pool)
    pds = -np.expm1(-_hazard(sched.pd) * sched.term_months / 12.0)
    return pds, sched.balance[:, 0].copy(), 1.0 - sched.recovery_rate


def static_tranche_expected_loss(deal: Deal, correlation: float,
                                 method: Literal["lhp", "recursion"] = "recursion") -> FloatArray:
    """Expected loss (fraction of face) of each tranche on the pool loss at maturity, without
    excess spread or timing: ``E[min((L - A)^+, D - A)] / (D - A)``.

    ``lhp`` uses `credit.portfolio.vasicek_tranche_loss` with the balance-weighted PD and
    recovery; ``recursion`` the exact distribution from `credit.portfolio.loss_distribution`.
    """
    from credit.portfolio import loss_distribution, tranche_expected_loss, vasicek_tranche_loss

    rho = _check_rho(correlation)
    pds, eads, lgds = pool_horizon_inputs(deal)
    total = float(eads.sum())
    if method == "lhp":
        pd = float(pds @ eads / total)
        rec = 1.0 - float(lgds @ eads / total)
        return np.array([vasicek_tranche_loss(pd, rho, rec, t.attach, t.detach) for t in deal.tranches])
    if method != "recursion":
        raise ConventionError(f"The `method` must be 'lhp' or 'recursion'. Got {method!r}.", field="method")
    ok = pds > 0
    losses, probs = loss_distribution(pds[ok], eads[ok], np.clip(lgds[ok], 1e-12, 1.0), rho,
                                      method="recursion")
    return np.array([tranche_expected_loss(losses / total, probs, t.attach, t.detach)
                     for t in deal.tranches])


@dataclass(frozen=True, slots=True)
class BreakEven:
    """The constant annual default rate at which a tranche first loses principal, and the
    cumulative defaults (over the initial pool balance) it implies."""

    tranche: str
    cdr: float
    cumulative_default: float


def _tranche_loss_at(deal: Deal, sched: AssetSchedules, k: int, cdr: float, index: FloatArray) -> tuple[float, float]:
    s = cdr_survival(cdr, sched.n_periods)
    cf = pool_cashflows_from_survival(sched, s)
    wf = run_waterfall(deal, cf, index)
    return float(wf.writedown[0, k].sum() / deal.tranches[k].balance), float(cf.defaults.sum() / cf.initial_balance)


def break_even_cdr(deal: Deal, tranche: str | int, *, index_rate: float = 0.0,
                   loss_threshold: float = 1e-6) -> BreakEven:
    """First-loss default rate of a tranche by root finding (scipy ``brentq``).

    The tranche's write-down (fraction of face) is zero up to the break-even CDR; a grid
    of CDRs brackets the first crossing of ``loss(cdr) = loss_threshold`` (the waterfall
    need not make the loss monotone: triggers and excess spread can cut in), which
    ``brentq`` then refines. A tranche that never loses (even at CDR 99.99 %) gets
    ``cdr = 1.0``.
    """
    k = tranche if isinstance(tranche, int) else [t.name for t in deal.tranches].index(tranche)
    sched = asset_schedules(deal.pool)
    index = np.full(sched.n_periods, float(index_rate))
    grid = np.concatenate([np.linspace(0.0, 0.2, 41)[:-1], np.linspace(0.2, 0.9999, 81)])
    surv = cdr_survival(np.repeat(grid[:, None], sched.n_periods, axis=1), sched.n_periods)
    cf = pool_cashflows_from_survival(sched, surv)
    wf = run_waterfall(deal, cf, index)  # the whole grid at once, one scenario per CDR
    losses = wf.writedown[:, k].sum(axis=1) / deal.tranches[k].balance
    above = np.nonzero(losses > loss_threshold)[0]
    if above.size == 0:
        return BreakEven(deal.tranches[k].name, 1.0, float(cf.defaults[-1].sum() / cf.initial_balance))
    first = int(above[0])
    if first == 0:
        return BreakEven(deal.tranches[k].name, 0.0, 0.0)
    lo, hi = float(grid[first - 1]), float(grid[first])
    root = brentq(lambda c: _tranche_loss_at(deal, sched, k, c, index)[0] - loss_threshold, lo, hi,
                  xtol=1e-10)
    return BreakEven(deal.tranches[k].name, float(root), _tranche_loss_at(deal, sched, k, root, index)[1])


def size_attachment(target_el: float, detach: float, *, pd: float, correlation: float,
                    recovery: float) -> float:
    """Attachment point giving a tranche ``[A, detach]`` the target expected loss (fraction
    of its face), large homogeneous pool (`credit.portfolio.vasicek_tranche_loss`), found by
    ``brentq``: the tranche EL falls as ``A`` rises.

    Raises
    ------
    CalibrationError
        When no attachment in ``[0, detach)`` reaches the target.
    """
    from credit.portfolio import vasicek_tranche_loss

    if not 0.0 < target_el < 1.0:
        raise ConventionError(f"The `target_el` must be in (0, 1). Got {target_el!r}.", field="target_el")

    def f(a: float) -> float:
        return vasicek_tranche_loss(pd, correlation, recovery, a, detach) - target_el

    lo, hi = 0.0, detach * (1.0 - 1e-9)
    if f(lo) < 0.0:
        return 0.0  # the whole tranche from 0 already meets the target
    if f(hi) > 0.0:
        raise CalibrationError(
            f"No attachment below detach={detach} gives expected loss {target_el}; "
            "lower the target or raise the detachment.", field="target_el")
    return float(brentq(f, lo, hi, xtol=1e-12))


def size_deal_attachment(deal: Deal, tranche: str | int, target_el: float, *,
                         correlation: float, method: Literal["lhp", "recursion"] = "recursion") -> float:
    """Attachment of a deal's tranche (keeping its detachment) for a target maturity EL,
    on the pool's loss distribution from `credit.portfolio` (recursion or large pool)."""
    from credit.portfolio import loss_distribution, tranche_expected_loss

    k = tranche if isinstance(tranche, int) else [t.name for t in deal.tranches].index(tranche)
    detach = deal.tranches[k].detach
    pds, eads, lgds = pool_horizon_inputs(deal)
    total = float(eads.sum())
    if method == "lhp":
        return size_attachment(target_el, detach, pd=float(pds @ eads / total),
                               correlation=correlation, recovery=1.0 - float(lgds @ eads / total))
    ok = pds > 0
    losses, probs = loss_distribution(pds[ok], eads[ok], np.clip(lgds[ok], 1e-12, 1.0),
                                      _check_rho(correlation), method="recursion")
    x = losses / total

    def f(a: float) -> float:
        return tranche_expected_loss(x, probs, a, detach) - target_el

    lo, hi = 0.0, detach * (1.0 - 1e-9)
    if f(lo) < 0.0:
        return 0.0
    if f(hi) > 0.0:
        raise CalibrationError(f"No attachment below detach={detach} gives expected loss {target_el}.",
                               field="target_el")
    return float(brentq(f, lo, hi, xtol=1e-12))
