"""Securitization benchmark: 1,000-loan pool, five tranches, 100,000 copula paths, 60 months.

Target: the full Monte Carlo (correlated default times -> pool cashflows -> waterfall ->
tranche analytics), chunked so memory stays bounded; wall time and peak memory
(tracemalloc peak of the run, and the process's peak RSS from ``resource.getrusage``).
Baseline, in the same run: the plain reference loops (`pool_cashflows_reference` +
`run_waterfall_reference`) on a slice of the same paths; the ratio compares the time per
path, and the slice's results are checked equal to the vectorised engine's.

Target figures: under 60 s and under 2 GiB on a 2-core machine.

Also measured (not part of the target): the ``recursion`` method on the same deal -- the
exact loss distribution at every payment date from `credit.portfolio`, realised through the
same waterfall -- with its wall time and each class's expected loss against the Monte Carlo
in standard errors (on this deal, where excess spread absorbs each month's losses, the
recursion's smoother month-to-month losses leave the equity class's EL a few per cent below
the Monte Carlo's; see `products.tranches.recursion_loss_paths`).
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from datetime import date
from typing import Any

import numpy as np

from products.structure import Deal, deal_from_dict
from products.tranches import analyze_deal, copula_default_periods, default_market
from products.waterfall import (
    asset_schedules,
    pool_cashflows_from_default_periods,
    pool_cashflows_reference,
    run_waterfall,
    run_waterfall_reference,
)

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
    loans = [{"loan_id": f"L{i:04d}", "balance": float(rng.uniform(5e6, 2e7)),
              "annual_rate": float(rng.uniform(0.04, 0.08)), "term_months": int(rng.integers(12, 61)),
              "amortization": amort[i % 3], "pd": float(rng.uniform(0.005, 0.05)),
              "recovery_rate": float(rng.uniform(0.2, 0.5))} for i in range(N_LOANS)]
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


def run() -> dict[str, Any]:
    deal = build_deal()
    market = default_market(date(2025, 1, 1), 0.02)
    sched = asset_schedules(deal.pool)

    tracemalloc.start()
    t0 = time.perf_counter()
    res = analyze_deal(deal, market=market, method="mc", correlation=CORRELATION, n_paths=N_PATHS,
                       seed=SEED, chunk_size=CHUNK)
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # baseline: the reference loops on a slice of paths, and the vectorised engine on the same slice
    d = copula_default_periods(sched, CORRELATION, SLICE, np.random.default_rng(SEED))
    t1 = time.perf_counter()
    cf_ref = pool_cashflows_reference(sched, d)
    wf_ref = run_waterfall_reference(deal, cf_ref)
    ref_time = time.perf_counter() - t1
    t2 = time.perf_counter()
    cf_vec = pool_cashflows_from_default_periods(sched, d)
    wf_vec = run_waterfall(deal, cf_vec)
    vec_slice_time = time.perf_counter() - t2
    diff = max(float(np.abs(getattr(wf_ref, f) - getattr(wf_vec, f)).max())
               for f in ("interest_paid", "principal_paid", "writedown", "residual", "reserve_end"))
    ref_per_path = ref_time / SLICE
    vec_per_path = wall / N_PATHS
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    t3 = time.perf_counter()
    rec = analyze_deal(deal, market=market, method="recursion", correlation=CORRELATION)
    rec_wall = time.perf_counter() - t3
    return {
        "loans": N_LOANS, "tranches": len(deal.tranches), "paths": N_PATHS,
        "periods": sched.n_periods, "chunk_paths": CHUNK, "seed": SEED, "correlation": CORRELATION,
        "wall_seconds": round(wall, 3),
        "paths_per_second": round(N_PATHS / wall, 1),
        "peak_traced_mib": round(peak / 2**20, 1),
        "peak_rss_mib": round(rss_kib / 1024, 1),
        "reference_slice_paths": SLICE,
        "reference_seconds_per_path": round(ref_per_path, 5),
        "vectorised_seconds_per_path": round(vec_per_path, 7),
        "speedup_vs_reference": round(ref_per_path / vec_per_path, 1),
        "vectorised_slice_seconds": round(vec_slice_time, 4),
        "slice_max_abs_difference": diff,
        "targets": {"wall_seconds": 60, "memory_mib": 2048,
                    "met": bool(wall < 60 and peak < 2 * 2**30 and rss_kib < 2 * 2**20)},
        "pool_expected_loss": round(res.pool_expected_loss, 6),
        "tranche_table": [
            {"name": t.name, "attach": t.attach, "detach": t.detach,
             "expected_loss": round(t.expected_loss, 6), "el_std_error": round(t.expected_loss_std_error, 6),
             "prob_loss": round(t.prob_loss, 5), "price": round(t.price, 4),
             "fair_spread_bp": round(t.fair_spread_bp, 1), "wal_years": round(t.wal_years, 3),
             "duration": round(t.duration, 3), "risk_weight": round(t.risk_weight, 4)}
            for t in res.tranches
        ],
        "recursion": {
            "wall_seconds": round(rec_wall, 3), "scenarios": rec.n_scenarios,
            "pool_expected_loss": round(rec.pool_expected_loss, 6),
            "tranches": [
                {"name": r.name, "expected_loss": round(r.expected_loss, 6),
                 "vs_mc_std_errors": (round((r.expected_loss - m.expected_loss) / m.expected_loss_std_error, 2)
                                      if m.expected_loss_std_error > 0 else None),
                 "price": round(r.price, 4)}
                for r, m in zip(rec.tranches, res.tranches, strict=True)
            ],
        },
    }
