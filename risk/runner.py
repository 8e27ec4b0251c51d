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

Where each part lives: the inputs (`MarketGrid`, `RunConfig`, `Variant`, the metrics) in
`risk.inputs`, the three stages' chunk kernels in `risk.kernels`, the output
(`StressResult`, `results_frame`) in `risk.results`; this module orchestrates them
(`StressRunner`, `run_stress`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from credit.capital import asset_correlation
from risk.book import Book
from risk.executors import Executor, LocalExecutor
from risk.inputs import (
    _LOAN_METRICS,
    _TRANCHE_METRICS,
    METRICS,
    QUANTILE_LEVELS,
    MarketGrid,
    RunConfig,
    Variant,
)
from risk.kernels import (
    TAIL_CONFIDENCE,
    _asset_chunk,
    _AssetOut,
    _AssetTask,
    _deal_task,
    _DealTask,
    _loan_chunk,
    _LoanTask,
    _portfolio_tail,
)
from risk.results import StressResult, VariantFigures, _aggregate
from risk.scenarios import Scenario, Shocks
from valuation._typing import FloatArray
from valuation.errors import ConventionError


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
        """Run each scenario: base vs stressed (one shared evaluation, common random numbers)."""
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
