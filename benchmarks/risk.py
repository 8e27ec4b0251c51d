"""Stress benchmark: 100,000 loans on 10,000 data assets under 10 scenarios.

Runs the same book and scenarios with the local executor (vectorised, chunked) and on a
Dask ``LocalCluster`` with two worker processes, and reports wall time, peak memory and
the Dask/local ratio. Both runs must give identical aggregates (checked). Peak memory of
the local run is the traced peak of Python/numpy allocations (``tracemalloc``) plus the
process's maximum resident set; for Dask, each worker's maximum resident set. A second
local run with chunks four times larger shows the chunked working set (two
``chunk x paths x months`` float arrays) stays below the per-position result arrays every
run must hold, which therefore set the peak.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
import warnings
from typing import Any

import numpy as np

from risk.book import AssetPosition, Book, LoanPosition, TranchePosition
from risk.executors import DaskExecutor, LocalExecutor
from risk.inputs import MarketGrid, RunConfig
from risk.library import builtins
from risk.results import results_frame
from risk.runner import StressRunner
from risk.scenarios import Scenario, Shocks

N_ASSETS = 10_000
N_LOANS = 100_000
N_PATHS = 64
MONTHS = 60
CATEGORIES = ("consumer", "industrial", "geospatial", "financial", "healthcare")


def make_book(n_assets: int = N_ASSETS, n_loans: int = N_LOANS, seed: int = 11) -> Book:
    """A seeded synthetic book: each asset secures n_loans / n_assets loans sized at 30-60 %
    of its approximate value; five securitizations of 1,000 loans each (large pools)."""
    rng = np.random.default_rng(seed)
    rev = rng.lognormal(np.log(1e5), 0.5, n_assets)
    assets = [
        AssetPosition(
            id=f"a{i}",
            category=CATEGORIES[i % 5],
            currency="CNY",
            revenue_0=float(rev[i]),
            growth_rate=float(g),
            volatility=float(v),
            obsolescence_hazard=0.003,
            half_life_months=float(h),
            economic_life_months=MONTHS,
            risk_premium=0.06,
            cross_border=bool(i % 3 == 0),
        )
        for i, (g, v, h) in enumerate(
            zip(
                rng.uniform(-0.05, 0.1, n_assets),
                rng.uniform(0.1, 0.4, n_assets),
                rng.uniform(24, 96, n_assets),
                strict=True,
            )
        )
    ]
    per = n_loans // n_assets
    value = rev * 35.0
    share = rng.uniform(0.3, 0.6, n_loans)
    pds = rng.uniform(0.005, 0.05, n_loans)
    mats = rng.choice([1.0, 2.0, 3.0], n_loans)
    loans = [
        LoanPosition(
            id=f"l{j}",
            currency="CNY",
            principal=float(value[j // per] * share[j] / per),
            pd=float(pds[j]),
            lgd=0.40,
            annual_rate=0.05,
            maturity_years=float(mats[j]),
            collateral={f"a{j // per}": 1.0 / per},
        )
        for j in range(n_loans)
    ]
    tranches = []
    for d in range(5):
        pool = tuple(f"l{j}" for j in range(d * 1000, (d + 1) * 1000))
        for name, a, b, c in (
            ("equity", 0.0, 0.08, 0.12),
            ("mezzanine", 0.08, 0.2, 0.06),
            ("senior", 0.2, 1.0, 0.025),
        ):
            tranches.append(
                TranchePosition(
                    id=f"s{d}-{name}",
                    securitization_id=f"s{d}",
                    name=name,
                    attach=a,
                    detach=b,
                    notional=1e7,
                    coupon=c,
                    maturity_years=3.0,
                    loan_ids=pool,
                )
            )
    return Book.build("CNY", assets, loans, tranches)


def scenarios() -> list[Scenario]:
    """The six non-baseline library scenarios plus four variations: ten in all."""
    lib = [s for s in builtins() if s.name != "baseline"]
    extra = [
        lib[-1].scaled(0.5),
        Scenario("slump_x2", lib[1].scaled(2.0).shocks, 12),
        Scenario("curve_twist", Shocks(key_rate_shifts_bp={"1Y": 150, "5Y": 50, "10Y": -25}), 6),
        Scenario(
            "consumer_crash",
            Shocks(revenue_multiplier_by_category={"consumer": 0.5}, pd_multiplier=1.5),
            24,
        ),
    ]
    return lib + extra


def _result_mb(book: Book) -> float:
    """Per-position result arrays of one run (11 variants: 10 scenarios + the base)."""
    n_variants = len(scenarios()) + 1
    per_variant = len(book.loans) * 9 + len(book.assets) * (3 + 24) + len(book.tranches) * 4
    return n_variants * per_variant * 8 / 2**20


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _local(book: Book, grid: MarketGrid, config: RunConfig) -> tuple[float, float, Any]:
    tracemalloc.start()
    t0 = time.perf_counter()
    res = StressRunner(book, grid, config, LocalExecutor()).run(scenarios())
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return wall, peak / 2**20, res


def run() -> dict[str, Any]:
    t0 = time.perf_counter()
    book = make_book()
    build_s = time.perf_counter() - t0
    grid = MarketGrid.flat(0.02, MONTHS)
    config = RunConfig(n_paths=N_PATHS, asset_chunk_size=250, loan_chunk_size=10_000)

    from distributed import Client, LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                memory_limit="6GiB",
            ) as cluster,
            Client(cluster) as client,
        ):
            t1 = time.perf_counter()
            dask_res = StressRunner(book, grid, config, DaskExecutor(client=client)).run(
                scenarios()
            )
            dask_s = time.perf_counter() - t1
            worker_rss = client.run(_maxrss_mb)
    # the local runs come after the cluster so that the workers (forked or spawned) start
    # from a small process and report their own peak resident memory
    local_s, local_peak, local_res = _local(book, grid, config)
    big = RunConfig(n_paths=N_PATHS, asset_chunk_size=1000, loan_chunk_size=40_000)
    big_s, big_peak, _ = _local(book, grid, big)
    local_rss = _maxrss_mb()
    a, b = results_frame(local_res), results_frame(dask_res)
    identical = bool(a.equals(b))
    severe = local_res[5].aggregate
    return {
        "book": {
            "assets": N_ASSETS,
            "loans": N_LOANS,
            "tranches": len(book.tranches),
            "scenarios": len(scenarios()),
            "paths": N_PATHS,
            "months": MONTHS,
            "build_seconds": round(build_s, 2),
        },
        "local": {
            "wall_seconds": round(local_s, 2),
            "peak_traced_mb": round(local_peak, 1),
            "asset_chunk_size": config.asset_chunk_size,
            "loan_chunk_size": config.loan_chunk_size,
        },
        "local_4x_chunks": {
            "wall_seconds": round(big_s, 2),
            "peak_traced_mb": round(big_peak, 1),
            "asset_chunk_size": big.asset_chunk_size,
        },
        "process_max_rss_mb": round(local_rss, 1),
        "dask_2_workers": {
            "wall_seconds": round(dask_s, 2),
            "worker_max_rss_mb": {k: round(v, 1) for k, v in worker_rss.items()},
        },
        "ratio_dask_over_local": round(dask_s / local_s, 3),
        "ratio_peak_4x_over_1x_chunks": round(big_peak / local_peak, 2),
        # the per-position figures every run must hold (variants x positions x metrics):
        # with the chunked working set below them, they set the peak
        "result_arrays_mb": round(_result_mb(book), 1),
        "asset_chunk_working_set_mb": {
            str(c.asset_chunk_size): round(2 * c.asset_chunk_size * N_PATHS * MONTHS * 8 / 2**20, 1)
            for c in (config, big)
        },
        "identical_local_and_dask": identical,
        "target_seconds": 60,
        "within_target": bool(local_s < 60 and dask_s < 60),
        "seed": config.seed,
        "severe_combined_expected_loss": {
            "base": float(severe.loc["expected_loss", "base"]),
            "stressed": float(severe.loc["expected_loss", "stressed"]),
        },
    }
