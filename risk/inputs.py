"""The inputs of a stress run: grid, settings, variants, metrics and random streams.

The risk-free grid (`MarketGrid`), the numerical settings (`RunConfig`), a variant of a
scenario (`Variant`), the metrics reported, and the per-asset random streams (seeded by
``(seed, blake2b(asset id))``, so results depend on neither chunking nor book order). The
pipeline is described in `risk.runner`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from credit.collateral import DEFAULT_HAIRCUT_QUANTILE
from risk.scenarios import Shocks
from valuation._typing import FloatArray
from valuation.conventions import DayCount, add_months, year_fraction
from valuation.errors import ConventionError
from valuation.haircut import DEFAULT_HAIRCUT_FLOOR

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
        """Return the number of months of the grid."""
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
        """Return a flat continuously compounded curve on ``t_k = k / 12``."""
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
