"""Tranche analytics on the default scenarios of a deal, run through the waterfall.

Expected loss, price, yield, spread, WAL, duration and SEC-SA capital on the default
scenarios of `products.scenarios` (``cdr``, ``mc``, ``stratified``, ``lhp``,
``recursion``) run through the waterfall. The static (maturity) tranche loss is
`products.static_loss`; the break-even and sizing solvers are `products.solvers`.

Pricing: month ``m`` is paid ``m`` months after the pool's ``cut_off_date`` (after the
curve's ``as_of`` when the pool has none; a curve dated after the cut-off is refused); the
floating index is the curve's monthly forwards. Conventions (stated once here, detail in
`analyze`):

* ``expected_loss`` the present value of interest and principal shortfalls over the
  promised present value, each class discounted at its own coupon (so the promised PV is
  par), under the real-world default model (`EXPECTED_LOSS_BASIS`, Moody's practice);
  ``principal_expected_loss`` the undiscounted write-downs net of PDL cures over the face;
  ``prob_loss`` the probability of an ultimate loss (principal not reimbursed or interest
  unpaid at the end, above 1e-9 of the face). For a tranche
  with a guarantee wrap both count only what the investor loses (the guarantor defaults
  independently of the pool, at its flat hazard, recovering a share);
* ``price`` per 100 of initial face: the expected investor cash discounted at the curve
  plus a discount margin (an input, solved from a market price, or by default the class's
  spread: floating ``spread_bp``, fixed coupon over the curve's par rate); real-world EL
  is reported beside it, so a mezzanine class paying less than its risk prices below par;
* ``yield`` the annual rate, monthly compounding, at which the promised cash flows (no
  defaults) are worth the price; ``duration`` the effective duration from a 1 bp parallel
  bump of the curve (index included) for floating classes, the modified duration at the
  yield for fixed ones; ``wal_years`` the average life of the balance (principal paid and
  written down);
* ``fair_spread_bp`` the spread over the curve's forwards that prices the tranche at par
  given its expected principal and balance path:
  ``s = (N_0 - sum_t DF_t (E[P_t] + f_t E[N_{t-1}] / 12)) / sum_t DF_t E[N_{t-1}] / 12``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from products.capital import guarantor_risk_weight, sec_sa_risk_weight
from products.investor import (
    default_margin_bp,
    investor_cashflows,
    loss_probability,
    modified_duration,
    par_rate,
    payment_dates,
    per_class,
    solve_margin,
    yield_monthly,
)
from products.pool_cashflows import PoolCashflows, pool_cashflows_from_survival
from products.scenarios import (
    DEFAULT_CHUNK,
    DEFAULT_K_SA,
    ScenarioMethod,
    scenario_chunks,
    stratified_chunks,
)
from products.schedules import asset_schedules
from products.static_loss import static_tranche_expected_loss
from products.structure import Deal
from products.waterfall import run_waterfall
from valuation._typing import FloatArray, IntArray
from valuation.conventions import DayCount, year_fraction
from valuation.errors import ConventionError
from valuation.market import MarketData

# ---------------------------------------------------------------------------------------------
# analytics
# ---------------------------------------------------------------------------------------------


#: What ``expected_loss`` measures (reported with every result).
EXPECTED_LOSS_BASIS = (
    "present value of interest and principal shortfalls, discounted at the "
    "class's own coupon, over the promised present value (the class's cash "
    "with no defaults: par when it is paid on time)"
)
#: Curve bump of the effective duration (basis points, up and down).
DURATION_BUMP_BP = 1.0
#: Monte Carlo paths the effective duration is measured on (the first ones, with common random
#: numbers for the bumped and unbumped runs; scenario methods use every scenario).
DURATION_PATHS = 10_000


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
    discount_margin_bp: float = 0.0
    market_price: float | None = None
    principal_expected_loss: float = 0.0
    modified_duration: float = float("nan")
    duration_basis: str = "modified"


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
    expected_loss_basis: str = EXPECTED_LOSS_BASIS

    def by_name(self, name: str) -> TrancheMetrics:
        """Return the metrics of the class called ``name``."""
        for t in self.tranches:
            if t.name == name:
                return t
        raise KeyError(name)


def analyze(
    deal: Deal,
    scenarios: Sequence[PoolCashflows] | Iterator[PoolCashflows],
    *,
    market: MarketData,
    method: str = "custom",
    seed: int | None = None,
    correlation: float = float("nan"),
    k_sa: float = DEFAULT_K_SA,
    w: float = 0.0,
    keep_losses: bool = False,
    discount_margin_bp: float | Mapping[str, float] | None = None,
    market_price: float | Mapping[str, float] | None = None,
    std_error: bool | None = None,
) -> DealAnalytics:
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
    discount_margin_bp : float or mapping, optional
        Discount margin over the curve (continuously compounded zero spread, bp) for every
        class or by class name; default `default_margin_bp`.
    market_price : float or mapping, optional
        Price per 100 by class name (or one for all): the class's discount margin is then
        solved from it (``brentq``) and reported.
    std_error : bool, optional
        Report sample standard errors (default: for ``method="mc"``).

    Notes
    -----
    * ``expected_loss`` (`EXPECTED_LOSS_BASIS`): per scenario ``max(0, 1 - PV_c /
      PV_c(promised))`` with ``PV_c`` the class's interest, principal and PDL cures
      discounted at its own coupon (floating: index + spread) -- the promised PV is then
      par whatever the timing (less any deferral the structure makes with no defaults) --
      averaged under the real-world default model. ``principal_expected_loss`` keeps the
      undiscounted principal measure (write-downs net of PDL cures over the face).
    * ``price`` per 100 of face: the expected investor cash (the equity class's residual
      included) discounted at the curve plus the discount margin; real-world EL beside it.
    * ``yield``: the annual rate (monthly compounding) at which the promised cash flows (no
      defaults, the same prepayments) are worth the price.
    * ``duration``: floating classes the effective duration ``(P(-1bp) - P(+1bp)) / (2 P
      1bp)`` from a parallel curve bump that moves the index too (the waterfall is run again);
      fixed classes the modified duration of the promised cash at the yield. A Monte Carlo
      run measures it on its first `DURATION_PATHS` paths (common random numbers).
    """
    k_n = len(deal.tranches)
    faces = np.array([t.balance for t in deal.tranches])
    dm_in = per_class(discount_margin_bp, deal, "discount_margin_bp")
    mp_in = per_class(market_price, deal, "market_price")
    sums: dict[str, FloatArray] | None = None
    loss_parts: list[FloatArray] = []
    n_total = 0
    pool_loss = 0.0
    with_se = (method == "mc") if std_error is None else bool(std_error)
    floating = any(t.is_floating for t in deal.tranches)
    bumped: dict[str, tuple[FloatArray, FloatArray]] = {}
    sampled = method in ("mc", "stratified")  # exchangeable paths: a prefix is a fair sample
    bumped_paths = 0
    for cf in scenarios:
        t_max = cf.n_periods
        if sums is None:
            start = deal.pool.cut_off_date or market.as_of
            if start < market.as_of:
                raise ConventionError(
                    f"The `as_of` must be on or before the pool's cut-off date "
                    f"{start.isoformat()} (the deal's months start there). Got "
                    f"{market.as_of.isoformat()}.",
                    field="as_of",
                )
            dates = payment_dates(start, t_max)
            times = np.array([year_fraction(market.as_of, d, DayCount.ACT_365F) for d in dates])
            df0 = market.discount_factors(dates)
            prev = np.concatenate([[1.0], df0[:-1]])
            index = (prev / df0 - 1.0) * 12.0
            for tag, bp in (("up", DURATION_BUMP_BP), ("down", -DURATION_BUMP_BP)):
                dfb = market.parallel_shift(bp).discount_factors(dates)
                prevb = np.concatenate([[1.0], dfb[:-1]])
                bumped[tag] = (dfb, (prevb / dfb - 1.0) * 12.0)
            par = par_rate(df0)
            dm = np.array(
                [
                    d if d is not None else default_margin_bp(t, par)
                    for d, t in zip(dm_in, deal.tranches, strict=True)
                ]
            )
            dfk = df0[None, :] * np.exp(-dm[:, None] / 1e4 * times[None, :])
            from products.waterfall import _coupons

            cpn = _coupons(deal, t_max, index)
            dcpn = np.cumprod(1.0 / (1.0 + cpn / 12.0), axis=1)  # (K, T) at the class's coupon
            promised = _promised_cash(deal, t_max, index, times)
            # promised PV at the coupon: par, less any deferral the structure makes with no
            # defaults at all (e.g. quarterly collections against monthly coupons)
            promised_pv = (
                faces
                if promised is None
                else np.minimum(np.einsum("kt,kt->k", promised[1], dcpn), faces)
            )
            sums = {
                k: np.zeros((k_n, t_max))
                for k in ("cash", "prin", "paid", "wd", "bal", "cash_up", "cash_down", "cash_mid")
            }
            sums.update({k: np.zeros(k_n) for k in ("el", "el2", "pl", "pv", "pv2", "pel")})
        wf = run_waterfall(deal, cf, index)
        cash, loss = investor_cashflows(deal, wf, times)
        claim = cash.copy()
        if deal.tranches[-1].equity:
            claim[:, -1, :] -= wf.residual
        wts = cf.weights
        bal_start = np.concatenate(
            [np.broadcast_to(faces, (cf.n_scenarios, k_n))[:, :, None], wf.note_balance[:, :, :-1]],
            axis=2,
        )
        sums["cash"] += np.einsum("s,skt->kt", wts, cash)
        # principal the investor receives: paid by the waterfall, plus write-downs a wrap covers
        sums["prin"] += np.einsum("s,skt->kt", wts, wf.principal_paid + wf.writedown - loss)
        sums["paid"] += np.einsum("s,skt->kt", wts, wf.principal_paid)
        sums["wd"] += np.einsum("s,skt->kt", wts, wf.writedown)
        sums["bal"] += np.einsum("s,skt->kt", wts, bal_start)
        shortfall = np.clip(1.0 - np.einsum("skt,kt->sk", claim, dcpn) / promised_pv, 0.0, 1.0)
        pv = np.einsum("skt,kt->sk", cash, dfk) / faces * 100.0
        sums["el"] += wts @ shortfall
        sums["el2"] += wts @ (shortfall * shortfall)
        sums["pel"] += wts @ (loss.sum(axis=2) / faces)
        sums["pl"] += wts @ loss_probability(deal, wf, times, faces)
        sums["pv"] += wts @ pv
        sums["pv2"] += wts @ (pv * pv)
        if floating and (not sampled or bumped_paths < DURATION_PATHS):
            for tag in ("up", "down"):
                wfb = run_waterfall(deal, cf, bumped[tag][1])
                sums[f"cash_{tag}"] += np.einsum(
                    "s,skt->kt", wts, investor_cashflows(deal, wfb, times)[0]
                )
            sums["cash_mid"] += np.einsum("s,skt->kt", wts, cash)
            bumped_paths += cf.n_scenarios
        pool_loss += float(wts @ cf.net_loss()) / cf.initial_balance
        n_total += cf.n_scenarios
        if keep_losses:
            loss_parts.append(shortfall)
    if sums is None:
        raise ConventionError("No scenarios to analyse.", field="scenarios")
    metrics = []
    for k, tr in enumerate(deal.tranches):
        exp_cash = sums["cash"][k]
        margin = float(dm[k])
        given_price = mp_in[k]
        if given_price is not None:
            margin = solve_margin(exp_cash, df0, times, faces[k], float(given_price), tr.name)
        disc = df0 * np.exp(-margin / 1e4 * times)
        price = float(exp_cash @ disc) / faces[k] * 100.0
        prom = promised[0][k] if promised is not None else exp_cash
        y = yield_monthly(prom, price / 100.0 * faces[k])
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
        se_el = math.sqrt(var_el / n_total) if with_se else 0.0
        se_pv = math.sqrt(var_pv / n_total) if with_se else 0.0
        mod = modified_duration(prom, y)
        p_mid = float(sums["cash_mid"][k] @ disc)
        if tr.is_floating and p_mid > 0.0:
            # on the paths the bumps ran on (all of them but for a large Monte Carlo run)
            p_up = float(sums["cash_up"][k] @ (bumped["up"][0] * np.exp(-margin / 1e4 * times)))
            p_dn = float(sums["cash_down"][k] @ (bumped["down"][0] * np.exp(-margin / 1e4 * times)))
            dur = (p_dn - p_up) / (2.0 * p_mid * DURATION_BUMP_BP / 1e4)
            basis = "effective"
        else:
            dur, basis = mod, "modified"
        metrics.append(
            TrancheMetrics(
                name=tr.name,
                balance=float(faces[k]),
                attach=tr.attach,
                detach=tr.detach,
                expected_loss=min(max(float(sums["el"][k]), 0.0), 1.0),
                prob_loss=min(max(float(sums["pl"][k]), 0.0), 1.0),
                price=price,
                yield_rate=y,
                fair_spread_bp=float(fair),
                wal_years=wal,
                duration=dur,
                risk_weight=rw,
                expected_loss_std_error=se_el,
                price_std_error=se_pv,
                discount_margin_bp=margin,
                market_price=mp_in[k],
                principal_expected_loss=min(max(float(sums["pel"][k]), 0.0), 1.0),
                modified_duration=mod,
                duration_basis=basis,
            )
        )
    return DealAnalytics(
        method=method,
        n_scenarios=n_total,
        seed=seed,
        correlation=correlation,
        tranches=tuple(metrics),
        pool_expected_loss=pool_loss,
        expected_cashflows=sums["cash"],
        loss_samples=np.concatenate(loss_parts) if keep_losses else None,
    )


def _promised_cash(
    deal: Deal, t_max: int, index: FloatArray, times: FloatArray
) -> tuple[FloatArray, FloatArray] | None:
    """Return each class's cash with no defaults, with and without the equity's residual.

    The pool's prepayments are kept; shape (K, T); None when the scenarios do not run over
    the pool's own months.
    """
    sched = asset_schedules(deal.pool)
    if sched.n_periods != t_max:
        return None
    cf0 = pool_cashflows_from_survival(sched, np.ones((1, t_max + 1)))
    wf0 = run_waterfall(deal, cf0, index)
    cash, _ = investor_cashflows(deal, wf0, times)
    claim = cash[0].copy()
    if deal.tranches[-1].equity:
        claim[-1] -= wf0.residual[0]
    return cash[0], claim


def analyze_deal(
    deal: Deal,
    *,
    market: MarketData,
    method: ScenarioMethod = "mc",
    correlation: float = 0.15,
    n_paths: int = 10_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    cdr: float | Sequence[float] | FloatArray | None = None,
    k_sa: float = DEFAULT_K_SA,
    w: float = 0.0,
    keep_losses: bool = False,
    discount_margin_bp: float | Mapping[str, float] | None = None,
    market_price: float | Mapping[str, float] | None = None,
) -> DealAnalytics:
    """Analyse every tranche of a deal under the chosen default model.

    Per-tranche expected loss, probability of loss, price, yield, fair spread, WAL, duration and
    SEC-SA risk weight under the chosen default model (conventions in `analyze`: EL as the PV of
    shortfalls, price from a discount margin, yield from the price, effective duration of floating
    classes).

    Parameters
    ----------
    deal : Deal
    market : MarketData
        Discount curve at the closing date (QuantLib); its monthly forwards are the
        floating index and each class is discounted at the curve plus its market spread.
    method : {"mc", "stratified", "lhp", "recursion", "cdr"}
        Default model (see the module docstring); ``stratified`` is `analyze_stratified`.
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
    discount_margin_bp, market_price : float or mapping, optional
        The discount margin over the curve (bp), or the market price per 100 it is solved
        from, for every class or by class name (see `analyze`).

    Returns
    -------
    DealAnalytics

    Examples
    --------
    >>> from datetime import date
    >>> from products.spec import deal_from_dict
    >>> from valuation.market import default_curve
    >>> deal = deal_from_dict({
    ...     "pool": {"loans": [{"loan_id": f"L{i}", "balance": 1e6, "annual_rate": 0.06,
    ...                         "tenor_months": 24, "pd": 0.03} for i in range(50)]},
    ...     "tranches": [{"name": "A", "attach": 0.1, "detach": 1.0, "coupon": 0.03},
    ...                  {"name": "E", "attach": 0.0, "detach": 0.1, "coupon": 0.10}]})
    >>> res = analyze_deal(deal, market=default_curve(date(2025, 1, 1), "CNY"), n_paths=2000, seed=7)
    >>> res.by_name("E").expected_loss > res.by_name("A").expected_loss
    True
    """
    if method == "stratified":
        return analyze_stratified(
            deal,
            market=market,
            correlation=correlation,
            n_paths=n_paths,
            seed=seed,
            chunk_size=chunk_size,
            k_sa=k_sa,
            w=w,
            keep_losses=keep_losses,
            discount_margin_bp=discount_margin_bp,
            market_price=market_price,
        )
    chunks = scenario_chunks(
        deal,
        method,
        correlation=correlation,
        n_paths=n_paths,
        seed=seed,
        chunk_size=chunk_size,
        cdr=cdr,
    )
    return analyze(
        deal,
        chunks,
        market=market,
        method=method,
        seed=seed if method == "mc" else None,
        correlation=correlation,
        k_sa=k_sa,
        w=w,
        keep_losses=keep_losses,
        discount_margin_bp=discount_margin_bp,
        market_price=market_price,
    )


def _stratified_stats(y: FloatArray, label: IntArray, s_n: int) -> tuple[float, float]:
    """Return the stratified mean and its standard error.

    Stratified mean (equal-probability strata) and its standard error from the within-stratum sample
    variances.
    """
    size = np.bincount(label, minlength=s_n).astype(np.float64)
    mean_s = np.bincount(label, weights=y, minlength=s_n) / size
    dev = y - mean_s[label]
    var_s = np.bincount(label, weights=dev * dev, minlength=s_n) / np.maximum(size - 1.0, 1.0)
    return float(mean_s.mean()), float(math.sqrt(float((var_s / size).sum())) / s_n)


def analyze_stratified(
    deal: Deal,
    *,
    market: MarketData,
    correlation: float = 0.15,
    n_paths: int = 10_000,
    seed: int = 0,
    chunk_size: int = DEFAULT_CHUNK,
    k_sa: float = DEFAULT_K_SA,
    w: float = 0.0,
    keep_losses: bool = False,
    discount_margin_bp: float | Mapping[str, float] | None = None,
    market_price: float | Mapping[str, float] | None = None,
) -> DealAnalytics:
    """Analyse a deal by Monte Carlo stratified on the common factor, with a control variate.

    The unbiased tranche engine: Monte Carlo stratified on the common factor (`stratified_chunks`:
    exact default times given each factor draw) through the full waterfall, with the exact
    maturity-only tranche loss of the recursion (`static_tranche_expected_loss`,
    Andersen-Sidenius-Basu) as a control variate.

    Per class, with ``Y`` the path's loss (`EXPECTED_LOSS_BASIS`) and ``C`` its
    maturity-only tranche loss ``min((L_T / B_0 - A)^+, D - A) / (D - A)`` (``L_T`` the
    path's defaulted balance x LGD, as the recursion counts it):
    ``EL = mean(Y - beta (C - E[C]))`` with ``E[C]`` from the recursion and ``beta`` the
    within-stratum regression slope of ``Y`` on ``C``; the standard error is the stratified
    one of the adjusted values. The recursion alone is exact only for maturity-only loss
    allocation (no excess spread, no timing); here it only removes variance, so the result
    stays unbiased on any waterfall (``beta`` estimated from the sample: an O(1/n) effect).
    Prices are the stratified means of the path values.
    """
    sched = asset_schedules(deal.pool)
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 2:
        raise ConventionError(
            f"The `paths` must be an integer >= 2. Got {n_paths!r}.", field="paths"
        )
    labels: list[IntArray] = []
    pool_losses: list[FloatArray] = []

    def chunks() -> Iterator[PoolCashflows]:
        for cf, lab, lt in stratified_chunks(sched, correlation, n_paths, seed, chunk_size):
            labels.append(lab)
            pool_losses.append(lt)
            yield cf

    res = analyze(
        deal,
        chunks(),
        market=market,
        method="stratified",
        seed=seed,
        correlation=correlation,
        k_sa=k_sa,
        w=w,
        keep_losses=True,
        discount_margin_bp=discount_margin_bp,
        market_price=market_price,
        std_error=True,
    )
    y_all = res.loss_samples
    assert y_all is not None  # noqa: S101 - narrows a type the lines above guarantee
    label = np.concatenate(labels)
    s_n = int(label.max()) + 1
    b0 = float(sched.balance[:, 0].sum())
    frac = np.concatenate(pool_losses) / b0
    exact = static_tranche_expected_loss(deal, correlation, method="recursion")
    size = np.bincount(label, minlength=s_n).astype(np.float64)
    metrics = []
    for k, tr in enumerate(deal.tranches):
        width = tr.detach - tr.attach
        c = np.clip(frac - tr.attach, 0.0, width) / width
        y = y_all[:, k]
        yc = y - (np.bincount(label, weights=y, minlength=s_n) / size)[label]
        cc = c - (np.bincount(label, weights=c, minlength=s_n) / size)[label]
        denom = float(cc @ cc)
        beta = float(yc @ cc) / denom if denom > 0.0 else 0.0
        el, se = _stratified_stats(y - beta * (c - exact[k]), label, s_n)
        metrics.append(
            replace(
                res.tranches[k], expected_loss=min(max(el, 0.0), 1.0), expected_loss_std_error=se
            )
        )
    return replace(res, tranches=tuple(metrics), loss_samples=y_all if keep_losses else None)
