"""Monte Carlo valuation kernel: one asset, 1,000 assets, the floor and a naive loop.

Measured in one run on this machine:

- ``one_asset_ms``: median time of the path kernel (`simulate_cash_flows` +
  discounting) for one asset, 10,000 paths x 60 months, antithetic, with the
  obsolescence jump, reusing its float64 buffers; target <= 50 ms.
- ``floor_one_asset_ms``: median time just to draw the normals those paths need
  (antithetic: 5,000 x 60 float64 via ``Generator.standard_normal(out=...)``).
- ``kernel_over_floor``: target <= 3. For reference, also the time to draw all
  10,000 x 60 normals (``floor_without_antithetic_ms``) and the ratio to it.
- ``thousand_assets_s``: 1,000 assets x 10,000 paths x 60 months with
  `simulate_values_batch` (vectorised across assets in chunks); target <= 30 s.
- ``floor_thousand_assets_s``: the normals for the 1,000 assets alone.
- ``naive_one_asset_ms``: a plain per-path Python loop on a slice of paths, scaled
  to 10,000 paths; ``speedup_vs_naive`` = naive / kernel.
- ``thousand_assets_mixture_s``: the same 1,000 assets with each valuation's mixture
  distribution (income paths + cost and market draws), its p05 / p50 / p95, the values
  at the end of the 6-month liquidation horizon and the haircut
  (`valuation.mixture.summarise_batch`, chunks of 50 assets); target <= 30 s, and its
  peak traced memory ``thousand_assets_mixture_peak_mb`` beside that of 100 assets
  (memory must not grow with the number of assets).
- ``value_asset_ms``: median of the full `valuation.value_asset` on a sample asset
  (fits, three approaches, simulation, mixture, haircut, sensitivities, quote) for
  context (no target).
"""

from __future__ import annotations

import math
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from valuation.paths import discount_paths, simulate_cash_flows, simulate_values_batch

MONTHS = 60
PATHS = 10_000
ASSETS = 1_000
NAIVE_SLICE = 200


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _inputs(
    rng: np.random.Generator, n_assets: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    k = np.arange(1, MONTHS + 1, dtype=np.float64)
    r0 = np.exp(rng.normal(np.log(600_000.0), 0.5, n_assets))
    growth = rng.uniform(-0.02, 0.03, n_assets)
    half_life = rng.uniform(20.0, 70.0, n_assets)
    expected = 0.7 * r0[:, None] * np.exp(growth[:, None] * k) * 0.5 ** (k / half_life[:, None])
    sigma = rng.uniform(0.03, 0.09, n_assets)
    hazard = 0.5 * math.log(2.0) / (half_life * 0.5)
    dfs = 1.10 ** (-k / 12.0)
    return expected, sigma, hazard, dfs


def _naive(
    expected: np.ndarray,
    sigma: float,
    hazard: float,
    dfs: np.ndarray,
    n: int,
    rng: np.random.Generator,
) -> list[float]:
    """Per-path, per-month Python loop (the baseline)."""
    values = []
    for _ in range(n):
        z = rng.standard_normal(MONTHS)
        tau = rng.exponential(1.0 / hazard)
        w = 0.0
        v = 0.0
        for m in range(MONTHS):
            k = m + 1
            w += z[m]
            comp = 1.0 - 0.5 * (1.0 - math.exp(-hazard * k))
            cf = expected[m] / comp * math.exp(sigma * w - 0.5 * sigma * sigma * k)
            if k >= tau:
                cf *= 0.5
            v += cf * dfs[m]
        values.append(v)
    return values


def run() -> dict[str, float]:
    rng = np.random.default_rng(20240601)
    expected, sigma, hazard, dfs = _inputs(rng, ASSETS)
    e0, s0, h0 = expected[0], float(sigma[0]), float(hazard[0])

    out = np.empty((MONTHS, PATHS))
    scratch = np.empty((MONTHS, PATHS // 2))

    def kernel() -> np.ndarray:
        cf = simulate_cash_flows(
            e0,
            s0,
            PATHS,
            rng,
            antithetic=True,
            jump_hazard=h0,
            jump_loss=0.5,
            out=out,
            scratch=scratch,
        )
        return discount_paths(cf, dfs)

    buf = np.empty((MONTHS, PATHS // 2))

    def floor() -> None:
        rng.standard_normal(out=buf)

    full = np.empty((MONTHS, PATHS))

    def floor_full() -> None:
        rng.standard_normal(out=full)

    kernel()
    one_ms = _median_ms(kernel, 31)
    floor_ms = _median_ms(floor, 31)
    floor_full_ms = _median_ms(floor_full, 31)

    t0 = time.perf_counter()
    _naive(e0, s0, h0, dfs, NAIVE_SLICE, rng)
    naive_ms = 1e3 * (time.perf_counter() - t0) * PATHS / NAIVE_SLICE

    t0 = time.perf_counter()
    values = simulate_values_batch(
        expected, sigma, dfs, PATHS, rng, antithetic=True, jump_hazard=hazard, jump_loss=0.5
    )
    thousand_s = time.perf_counter() - t0
    big = np.empty((MONTHS, PATHS // 2))
    t0 = time.perf_counter()
    for _ in range(ASSETS):
        rng.standard_normal(out=big)
    floor_thousand_s = time.perf_counter() - t0

    from valuation.mixture import summarise_batch

    def mixture_run(n_assets: int) -> tuple[float, float]:
        weights = np.tile([0.5, 0.2, 0.3], (n_assets, 1))
        income = (expected[:n_assets] * dfs).sum(axis=1)
        others = np.column_stack([0.6 * income, 1.5 * income])
        sds = np.tile([0.15, 0.4], (n_assets, 1))
        tracemalloc.start()
        t = time.perf_counter()
        summarise_batch(
            expected[:n_assets],
            sigma[:n_assets],
            dfs,
            PATHS,
            rng,
            weights=weights,
            other_values=others,
            other_sds=sds,
            jump_hazard=hazard[:n_assets],
            jump_loss=0.5,
            horizon_months=6,
        )
        elapsed = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return elapsed, peak

    _, peak_100 = mixture_run(100)
    mixture_s, peak_1000 = mixture_run(ASSETS)

    # The batch and the one-asset kernel agree in mean (same model): relative gap in s.e.
    mean_gap = float(
        abs(values[0].mean() - kernel().mean()) / (values[0].std() / math.sqrt(PATHS / 2))
    )

    from samples.data_assets import generate_samples
    from valuation import AssetProfile, MarketData, value_asset
    from valuation.conventions import Compounding, DayCount

    sample = generate_samples(n_assets=1)
    a = sample.assets[0]
    profile = AssetProfile.from_mapping({**a.profile, "id": a.key})
    market = MarketData.flat_rate(
        sample.as_of,
        0.02,
        currency="CNY",
        day_count=DayCount.ACT_365F,
        compounding=Compounding.ANNUAL,
    )
    va_ms = _median_ms(
        lambda: value_asset(
            a.signals, a.costs, sample.comparables, profile, sample.as_of, market, PATHS, 1
        ),
        5,
    )
    return {
        "paths": PATHS,
        "months": MONTHS,
        "assets": ASSETS,
        "one_asset_ms": round(one_ms, 3),
        "floor_one_asset_ms": round(floor_ms, 3),
        "kernel_over_floor": round(one_ms / floor_ms, 3),
        "floor_without_antithetic_ms": round(floor_full_ms, 3),
        "kernel_over_floor_without_antithetic": round(one_ms / floor_full_ms, 3),
        "naive_one_asset_ms": round(naive_ms, 1),
        "speedup_vs_naive": round(naive_ms / one_ms, 1),
        "thousand_assets_s": round(thousand_s, 3),
        "floor_thousand_assets_s": round(floor_thousand_s, 3),
        "thousand_over_floor": round(thousand_s / floor_thousand_s, 3),
        "batch_vs_single_mean_gap_se": round(mean_gap, 3),
        "thousand_assets_mixture_s": round(mixture_s, 3),
        "thousand_assets_mixture_peak_mb": round(peak_1000, 1),
        "hundred_assets_mixture_peak_mb": round(peak_100, 1),
        "value_asset_ms": round(va_ms, 1),
        "target_one_asset_ms": 50,
        "target_thousand_assets_s": 30,
        "target_thousand_assets_mixture_s": 30,
        "target_kernel_over_floor": 3,
    }
