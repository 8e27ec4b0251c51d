"""Securitization benchmark: 1,000-loan pool, five tranches, 100,000 paths, 60 months.

Target: the unbiased tranche engine (`products.tranches.analyze_stratified`: Monte Carlo
stratified on the common factor, exact default times given each draw, the recursion's
maturity-only tranche loss as a control variate) against plain copula Monte Carlo, both at
100,000 paths through the full waterfall; per class the expected loss, its standard error
and the wall time of each. The stratified engine reaches the plain engine's standard error
in ``t_strat x (se_strat / se_plain)^2`` (the variance falls like 1 / paths); target: at most
a quarter of the plain engine's time for every class with a loss, and the whole run under
60 s and 2 GiB (tracemalloc peak of the run and the process's peak RSS).

Also in the same run: the plain reference loops (`pool_cashflows_reference` +
`run_waterfall_reference`) on a slice of the same paths, checked equal to the vectorised
engine, and the time per path of each.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from datetime import date
from typing import Any

import numpy as np

from products.pool_cashflows import pool_cashflows_from_default_periods, pool_cashflows_reference
from products.scenarios import copula_default_periods
from products.schedules import asset_schedules
from products.spec import deal_from_dict
from products.structure import Deal
from products.tranches import analyze_deal
from products.waterfall import run_waterfall, run_waterfall_reference
from valuation.market import default_curve

N_LOANS = 1_000
N_PATHS = 100_000
CHUNK = 5_000
SLICE = 40
CORRELATION = 0.2
SEED = 20_251_125


def build_deal(seed: int = 7) -> Deal:
    """A 1,000-loan pool of data-collateralised loans (RMB 5-20 million, 12-60 months)."""
    rng = np.random.default_rng(seed)
    amort = ("annuity", "linear", "bullet")
    loans = [
        {
            "loan_id": f"L{i:04d}",
            "balance": float(rng.uniform(5e6, 2e7)),
            "annual_rate": float(rng.uniform(0.04, 0.08)),
            "tenor_months": int(rng.integers(12, 61)),
            "amortization": amort[i % 3],
            "pd": float(rng.uniform(0.005, 0.05)),
            "recovery_rate": float(rng.uniform(0.2, 0.5)),
        }
        for i in range(N_LOANS)
    ]
    spec = {
        "pool": {"loans": loans, "prepayment_rate": 0.05, "recovery_lag_months": 0},
        "tranches": [
            {"name": "A", "attach": 0.30, "detach": 1.00, "coupon": 0.025},
            {"name": "B", "attach": 0.20, "detach": 0.30, "coupon": 0.035},
            {"name": "C", "attach": 0.12, "detach": 0.20, "spread_bp": 300},
            {"name": "D", "attach": 0.06, "detach": 0.12, "coupon": 0.06},
            {"name": "E", "attach": 0.00, "detach": 0.06, "coupon": 0.08},
        ],
        "senior_fee_rate": 0.005,
        "reserve": {"initial": 1e8, "target_rate": 0.01},
        "principal_rule": "pro_rata",
        "triggers": {"oc_ratio": 1.02, "cumulative_default": 0.08},
        "currency": "CNY",
    }
    return deal_from_dict(spec)


def _table(res: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": t.name,
            "attach": t.attach,
            "detach": t.detach,
            "expected_loss": round(t.expected_loss, 6),
            "el_std_error": round(t.expected_loss_std_error, 7),
            "prob_loss": round(t.prob_loss, 5),
            "price": round(t.price, 4),
            "yield": round(t.yield_rate, 5),
            "discount_margin_bp": round(t.discount_margin_bp, 1),
            "duration": round(t.duration, 3),
            "duration_basis": t.duration_basis,
        }
        for t in res.tranches
    ]


def run() -> dict[str, Any]:
    deal = build_deal()
    market = default_curve(date(2025, 1, 1), "CNY", 0.02)
    sched = asset_schedules(deal.pool)

    tracemalloc.start()
    t0 = time.perf_counter()
    plain = analyze_deal(
        deal,
        market=market,
        method="mc",
        correlation=CORRELATION,
        n_paths=N_PATHS,
        seed=SEED,
        chunk_size=CHUNK,
    )
    plain_wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    strat = analyze_deal(
        deal,
        market=market,
        method="stratified",
        correlation=CORRELATION,
        n_paths=N_PATHS,
        seed=SEED + 1,
        chunk_size=CHUNK,
    )
    strat_wall = time.perf_counter() - t1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # baseline: the reference loops on a slice of paths, and the vectorised engine on the same slice
    d = copula_default_periods(sched, CORRELATION, SLICE, np.random.default_rng(SEED))
    t2 = time.perf_counter()
    wf_ref = run_waterfall_reference(deal, pool_cashflows_reference(sched, d))
    ref_time = time.perf_counter() - t2
    wf_vec = run_waterfall(deal, pool_cashflows_from_default_periods(sched, d))
    diff = max(
        float(np.abs(getattr(wf_ref, f) - getattr(wf_vec, f)).max())
        for f in (
            "interest_paid",
            "principal_paid",
            "writedown",
            "pdl_cure",
            "residual",
            "reserve_end",
        )
    )
    total = time.perf_counter() - t0
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    classes = []
    worst = 0.0
    for p, s in zip(plain.tranches, strat.tranches, strict=True):
        if p.expected_loss_std_error <= 0.0 or p.expected_loss < 1e-5:
            classes.append({"name": p.name, "skipped": "no loss on the plain paths"})
            continue
        to_plain_se = strat_wall * (s.expected_loss_std_error / p.expected_loss_std_error) ** 2
        ratio = to_plain_se / plain_wall
        worst = max(worst, ratio)
        se = (p.expected_loss_std_error**2 + s.expected_loss_std_error**2) ** 0.5
        classes.append(
            {
                "name": p.name,
                "plain_el": round(p.expected_loss, 6),
                "stratified_el": round(s.expected_loss, 6),
                "difference_in_std_errors": round((s.expected_loss - p.expected_loss) / se, 2),
                "variance_reduction": round(
                    (p.expected_loss_std_error / max(s.expected_loss_std_error, 1e-300)) ** 2, 1
                ),
                "seconds_to_plain_std_error": round(to_plain_se, 3),
                "time_ratio_to_plain": round(ratio, 4),
            }
        )
    return {
        "loans": N_LOANS,
        "tranches": len(deal.tranches),
        "paths": N_PATHS,
        "periods": sched.n_periods,
        "chunk_paths": CHUNK,
        "seed": SEED,
        "correlation": CORRELATION,
        "plain_seconds": round(plain_wall, 3),
        "stratified_seconds": round(strat_wall, 3),
        "whole_run_seconds": round(total, 3),
        "peak_traced_mib": round(peak / 2**20, 1),
        "peak_rss_mib": round(rss_kib / 1024, 1),
        "classes": classes,
        "worst_time_ratio_to_plain_std_error": round(worst, 4),
        "reference_slice_paths": SLICE,
        "reference_seconds_per_path": round(ref_time / SLICE, 5),
        "vectorised_seconds_per_path": round(plain_wall / N_PATHS, 7),
        "slice_max_abs_difference": diff,
        "targets": {
            "time_ratio": 0.25,
            "wall_seconds": 60,
            "memory_mib": 2048,
            "met": bool(worst <= 0.25 and total < 60 and peak < 2 * 2**30 and rss_kib < 2 * 2**20),
        },
        "pool_expected_loss": {
            "plain": round(plain.pool_expected_loss, 6),
            "stratified": round(strat.pool_expected_loss, 6),
        },
        "expected_loss_basis": plain.expected_loss_basis,
        "plain": _table(plain),
        "stratified": _table(strat),
    }
